using System.Text.Json.Nodes;
using MambaByte.Core.Models;
using MambaByte.Core.Modules;
using MambaByte.Core.Modules.Attention;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MambaByte.Core.Architectures.SpaceByte;

/// <summary>
/// SpaceByte (Slagle 2024): a byte-level Transformer whose larger global blocks run only where a word-like patch
/// starts (<see cref="SpacelikeBytes"/>), instead of every P bytes as in MegaByte.
/// <list type="number">
/// <item>Byte embedding (d_local), then n_initial_layer local blocks over every byte, each attending to the last W bytes.</item>
/// <item>At the patch starts, the local activations (zero-padded in front to d_global) go through the global
/// blocks, which attend causally over patch starts only; the last d_local channels of their output are added
/// back into the byte stream at the same positions.</item>
/// <item>The remaining local blocks, a final RMSNorm and the byte head.</item>
/// </list>
/// Position t's logits predict byte t+1 and the global step at t has seen bytes ≤ t only, so the model is causal.
/// The forward runs a fixed number of global positions per window (<see cref="SpaceByteConfig.GlobalSlots"/>);
/// generation (<see cref="SpaceByteInferenceState"/>) runs the local blocks with window-trimmed KV caches and one
/// global step, with its own cache, per patch start.
/// </summary>
public sealed class SpaceByteModel : ByteLanguageModel
{
    private const string Name = "SpaceByte";

    private readonly Embedding token_embedding;
    private readonly ModuleList<TransformerBlock> initial_blocks;
    private readonly ModuleList<TransformerBlock> global_blocks;
    private readonly ModuleList<TransformerBlock> final_blocks;
    private readonly RMSNorm norm_f;
    private readonly Linear lm_head;

    /// <summary>Builds and initialises the model; <paramref name="seed"/>, when given, replaces the config's seed (and is recorded in it).</summary>
    public SpaceByteModel(SpaceByteConfig config, long? seed = null) : base(Name)
    {
        config = config.Validate() with { Seed = seed ?? config.Seed };
        Config = config;
        int window = config.ResolvedLocalAttentionWindow;
        TransformerBlock LocalBlock() => new(config.DLocal, config.NLocalHead, config.ResolvedDLocalMlp, config.RopeTheta, config.NormEpsilon,
            config.Dropout, attentionWindow: window);
        // Module constructors draw a default initialisation from torch's global generator; it is replaced below
        // from the config's seed, and the caller's random stream is left where it was.
        using (GlobalRandomState.Preserve())
        {
            token_embedding = nn.Embedding(ByteVocabulary, config.DLocal);
            initial_blocks = new ModuleList<TransformerBlock>();
            for (int i = 0; i < config.ResolvedNInitialLayer; i++) initial_blocks.Add(LocalBlock());
            global_blocks = new ModuleList<TransformerBlock>();
            for (int i = 0; i < config.NGlobalLayer; i++)
                global_blocks.Add(new TransformerBlock(config.DGlobal, config.NGlobalHead, config.ResolvedDGlobalMlp, config.RopeTheta, config.NormEpsilon, config.Dropout));
            final_blocks = new ModuleList<TransformerBlock>();
            for (int i = config.ResolvedNInitialLayer; i < config.NLocalLayer; i++) final_blocks.Add(LocalBlock());
            norm_f = new RMSNorm(config.DLocal, config.NormEpsilon);
            lm_head = nn.Linear(config.DLocal, ByteVocabulary, hasBias: false);
            RegisterComponents();
        }
        Initialise(new Generator(unchecked((ulong)config.Seed)));
    }

    public SpaceByteConfig Config { get; }

    public override string Architecture => SpaceByteConfig.ArchitectureName;

    public override JsonObject ConfigJson() => Config.ConfigJson();

    /// <summary><paramref name="bytes"/> (b, l) int64 → next-byte logits (b, l, 256), with the window's fixed global context.</summary>
    public override Tensor forward(Tensor bytes)
    {
        ModelInput.CheckBytes(bytes, 2, Name);
        return Run(bytes, null);
    }

    public override IInferenceState NewState(int batchSize) =>
        new SpaceByteInferenceState(batchSize, Config.NLocalLayer, Config.NGlobalLayer);

    /// <summary>Runs <paramref name="bytes"/> (b, l) after whatever the state already holds; returns (b, l, 256).</summary>
    public override Tensor Prefill(Tensor bytes, IInferenceState state)
    {
        ModelInput.CheckBytes(bytes, 2, Name);
        var typed = ModelInput.State<SpaceByteInferenceState>(state, bytes, Name);
        using var noGrad = no_grad();
        return Run(bytes, typed);
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

    /// <summary>Without a state: one window with its fixed global context. With one: continues the state's stream and advances it.</summary>
    private Tensor Run(Tensor bytes, SpaceByteInferenceState? state)
    {
        using var scope = NewDisposeScope();
        long batch = bytes.shape[0], length = bytes.shape[1];
        if (length == 0) return zeros([batch, 0, ByteVocabulary], dtype: lm_head.weight!.dtype, device: bytes.device).MoveToOuterDisposeScope();

        byte[][] rows = HostRows(bytes);
        int initial = Config.ResolvedNInitialLayer;
        Tensor x = token_embedding.forward(bytes);                                                      // (b, l, d)
        for (int i = 0; i < initial; i++) x = initial_blocks[i].Forward(x, state?.LocalCaches[i]);
        x = x + (state is null ? GlobalWindow(x, rows) : GlobalStream(x, rows, state));                 // (b, l, d)
        for (int i = 0; i < final_blocks.Count; i++) x = final_blocks[i].Forward(x, state?.LocalCaches[initial + i]);
        Tensor logits = lm_head.forward(norm_f.forward(x));                                             // (b, l, 256)

        state?.Advance(length, rows.Select(row => SpacelikeBytes.IsSpacelike(row[^1])).ToArray());
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The global blocks' contribution (b, l, d) for one window: the first G = GlobalSlots(l) patch starts of each
    /// sequence, padded to G with the last position (whose padded outputs are multiplied by 0), run as one batch.
    /// </summary>
    private Tensor GlobalWindow(Tensor x, byte[][] rows)
    {
        long batch = x.shape[0], length = x.shape[1], d = x.shape[2];
        int slots = (int)Config.GlobalSlots(length);
        var index = new long[batch * slots];
        var valid = new float[batch * slots];
        for (int b = 0; b < batch; b++)
        {
            int[] positions = SpacelikeBytes.GlobalPositions(rows[b]);
            for (int k = 0; k < slots; k++)
            {
                bool real = k < positions.Length;
                index[b * slots + k] = real ? positions[k] : length - 1;
                valid[b * slots + k] = real ? 1f : 0f;
            }
        }
        Tensor gather = tensor(index, [batch, slots, 1], device: x.device).expand(batch, slots, d);       // (b, G, d)
        Tensor keep = tensor(valid, [batch, slots, 1], device: x.device).to_type(x.dtype);               // (b, G, 1)
        Tensor output = Global(x.gather(1, gather), null) * keep;                                         // (b, G, d)
        return zeros_like(x).scatter_add(1, gather, output);                                              // (b, l, d)
    }

    /// <summary>The global blocks' contribution (b, l, d) for bytes continuing each sequence of <paramref name="state"/>: every patch start, through its own cache.</summary>
    private Tensor GlobalStream(Tensor x, byte[][] rows, SpaceByteInferenceState state)
    {
        var perSequence = new Tensor[rows.Length];
        for (int b = 0; b < rows.Length; b++)
        {
            Tensor row = x[b];                                                                            // (l, d)
            int[] positions = SpacelikeBytes.GlobalPositions(rows[b], state.PreviousSpacelike(b));
            if (positions.Length == 0)
            {
                perSequence[b] = zeros_like(row);
                continue;
            }
            Tensor index = tensor(positions.Select(p => (long)p).ToArray(), device: x.device);           // (n)
            Tensor output = Global(row.index_select(0, index).unsqueeze(0), state.GlobalCaches(b));        // (1, n, d)
            perSequence[b] = zeros_like(row).index_add(0, index, output.squeeze(0), 1.0);                     // (l, d)
        }
        return stack(perSequence);                                                                        // (b, l, d)
    }

    /// <summary>Local activations at patch starts (b, n, d_local) → the last d_local channels of the global blocks' output (b, n, d_local).</summary>
    private Tensor Global(Tensor local, IReadOnlyList<KvCache>? caches)
    {
        long dLocal = local.shape[^1], padding = Config.DGlobal - dLocal;
        Tensor y = nn.functional.pad(local, [padding, 0]);                                               // (b, n, D): zeros, then the local channels
        for (int i = 0; i < global_blocks.Count; i++) y = global_blocks[i].Forward(y, caches?[i]);
        return y.narrow(2, padding, dLocal);                                                              // (b, n, d_local)
    }

    private static byte[][] HostRows(Tensor bytes)
    {
        using Tensor host = bytes.cpu().contiguous();
        long[] ids = host.data<long>().ToArray();
        int length = (int)bytes.shape[1];
        return Enumerable.Range(0, (int)bytes.shape[0])
            .Select(b => ids.AsSpan(b * length, length).ToArray().Select(id => (byte)id).ToArray()).ToArray();
    }

    /// <summary>
    /// nanoGPT initialisation over the whole model: every matrix (embedding and head included) N(0, 0.02); the
    /// projections that write into a residual stream (attention out, MLP down) N(0, 0.02/√(2·blocks)) with all
    /// local and global blocks counted, so the stream's variance does not grow with depth; norm weights stay 1.
    /// </summary>
    private void Initialise(Generator generator)
    {
        double residualStd = 0.02 / Math.Sqrt(2.0 * (Config.NLocalLayer + Config.NGlobalLayer));
        using var noGrad = no_grad();
        foreach (var (name, parameter) in named_parameters().Where(named => named.parameter.dim() >= 2))
        {
            bool writesResidual = name.EndsWith(".out_proj.weight", StringComparison.Ordinal) || name.EndsWith(".down_proj.weight", StringComparison.Ordinal);
            parameter.normal_(0.0, writesResidual ? residualStd : 0.02, generator);
        }
    }
}
