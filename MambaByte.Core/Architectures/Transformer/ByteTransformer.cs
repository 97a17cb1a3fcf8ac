using System.Text.Json.Nodes;
using MambaByte.Core.Modules.Attention;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MambaByte.Core.Models;

namespace MambaByte.Core.Architectures.Transformer;

/// <summary>
/// Decoder-only byte-level Transformer: byte embedding → n_layer pre-norm blocks (RoPE causal attention,
/// SwiGLU) → RMSNorm → logits over 256 bytes, with the head tied to the embedding or separate.
/// Generation keeps a KV cache per layer (<see cref="TransformerInferenceState"/>).
/// </summary>
public sealed class ByteTransformer : ByteLanguageModel
{
    private const string Name = "ByteTransformer";

    private readonly Embedding embedding;
    private readonly TransformerStack backbone;
    private readonly Linear? lm_head;

    /// <summary>Builds and initialises the model; <paramref name="seed"/>, when given, replaces the config's seed (and is recorded in it).</summary>
    public ByteTransformer(TransformerConfig config, long? seed = null) : base(Name)
    {
        config = config.Validate() with { Seed = seed ?? config.Seed };
        Config = config;
        // Module constructors draw a default initialisation from torch's global generator; it is replaced below
        // from the config's seed, and the caller's random stream is left where it was.
        using (GlobalRandomState.Preserve())
        {
            embedding = nn.Embedding(ByteVocabulary, config.DModel);
            backbone = new TransformerStack(config.DModel, config.NLayer, config.NHead, config.ResolvedDMlp, config.RopeTheta, config.NormEpsilon, config.Dropout, "backbone");
            if (!config.TieEmbeddings) lm_head = nn.Linear(config.DModel, ByteVocabulary, hasBias: false);
            RegisterComponents();
        }

        var generator = new Generator(unchecked((ulong)config.Seed));
        using (no_grad())
        {
            embedding.weight!.normal_(0.0, 0.02, generator);
            backbone.Initialise(generator);
            lm_head?.weight!.normal_(0.0, 0.02, generator);
        }
    }

    public TransformerConfig Config { get; }

    public override string Architecture => TransformerConfig.ArchitectureName;

    public override JsonObject ConfigJson() => Config.ConfigJson();

    /// <summary><paramref name="bytes"/> (b, l) int64 → next-byte logits (b, l, 256).</summary>
    public override Tensor forward(Tensor bytes)
    {
        ModelInput.CheckBytes(bytes, 2, Name);
        return Run(bytes, null);
    }

    public override IInferenceState NewState(int batchSize) => new TransformerInferenceState(batchSize, Config.NLayer);

    /// <summary>Runs <paramref name="bytes"/> (b, l) after whatever the state already holds; returns (b, l, 256).</summary>
    public override Tensor Prefill(Tensor bytes, IInferenceState state)
    {
        ModelInput.CheckBytes(bytes, 2, Name);
        var typed = ModelInput.State<TransformerInferenceState>(state, bytes, Name);
        using var noGrad = no_grad();
        Tensor logits = Run(bytes, typed.Caches);
        typed.Advance(bytes.shape[1]);
        return logits;
    }

    public override Tensor Step(Tensor bytes, IInferenceState state)
    {
        ModelInput.CheckBytes(bytes, 1, Name);
        using var scope = NewDisposeScope();
        Tensor logits = Prefill(bytes.unsqueeze(1), state);                                             // (b, 1, 256)
        return logits.squeeze(1).MoveToOuterDisposeScope();                                             // (b, 256)
    }

    public override double TrainingFlopsPerByte(int contextLength) => Config.TrainingFlopsPerByte(contextLength);

    public override double GenerationFlopsPerByte(long position) => Config.GenerationFlopsPerByte(position);

    private Tensor Run(Tensor bytes, IReadOnlyList<KvCache>? caches)
    {
        using var scope = NewDisposeScope();
        Tensor x = embedding.forward(bytes);                                                            // (b, l, d)
        Tensor h = backbone.Forward(x, caches);                                                         // (b, l, d)
        Tensor logits = lm_head is null ? matmul(h, embedding.weight!.t()) : lm_head.forward(h);        // (b, l, 256)
        return logits.MoveToOuterDisposeScope();
    }
}
