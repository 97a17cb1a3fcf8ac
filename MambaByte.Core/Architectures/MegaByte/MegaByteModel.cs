using System.Text.Json.Nodes;
using MambaByte.Core.Modules.Attention;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MambaByte.Core.Models;

namespace MambaByte.Core.Architectures.MegaByte;

/// <summary>
/// MegaByte (Yu et al. 2023). The model predicts byte j from bytes 0 … j−1 (its position j); the contract's
/// logits[t] (the byte after t) are its positions 1 … l, so an input of l bytes runs ⌊l/P⌋+1 patches and
/// the padding after the last real byte is never an input to a scored position.
/// <list type="number">
/// <item>Global: each patch's P bytes are embedded in D/P channels and concatenated (D); the sequence of
/// patches is shifted right by one with a learned padding patch, so patch k sees patches &lt; k; plus a learned
/// patch position; a causal Transformer of width D.</item>
/// <item>The global output of patch k is split into its P byte slots (D/P each) and projected to the local width.</item>
/// <item>Local: inside each patch the byte embeddings are shifted right by one (a learned padding byte at slot 0),
/// the projected global slot is added, and a causal Transformer of width d_local runs over the P slots.</item>
/// </list>
/// Generation (<see cref="MegaByteInferenceState"/>) takes one global step at each patch boundary and one local
/// step per byte, both with KV caches.
/// </summary>
public sealed class MegaByteModel : ByteLanguageModel
{
    private const string Name = "MegaByte";

    private readonly Embedding global_embedding;
    private readonly Parameter global_pad;
    private readonly Parameter global_position;
    private readonly TransformerStack global_model;
    private readonly Linear global_to_local;
    private readonly Embedding local_embedding;
    private readonly Parameter local_pad;
    private readonly TransformerStack local_model;
    private readonly Linear lm_head;

    /// <summary>Builds and initialises the model; <paramref name="seed"/>, when given, replaces the config's seed (and is recorded in it).</summary>
    public MegaByteModel(MegaByteConfig config, long? seed = null) : base(Name)
    {
        config = config.Validate() with { Seed = seed ?? config.Seed };
        Config = config;
        int width = config.DGlobal, slot = config.ByteEmbeddingWidth;
        // Module constructors draw a default initialisation from torch's global generator; it is replaced below
        // from the config's seed, and the caller's random stream is left where it was.
        using (GlobalRandomState.Preserve())
        {
            global_embedding = nn.Embedding(ByteVocabulary, slot);
            global_pad = nn.Parameter(zeros(width));
            global_position = nn.Parameter(zeros(config.MaxPatches, width));
            global_model = new TransformerStack(width, config.NGlobalLayer, config.NGlobalHead, config.ResolvedDGlobalMlp, config.RopeTheta, config.NormEpsilon, config.Dropout, "global_model");
            global_to_local = nn.Linear(slot, config.DLocal, hasBias: false);
            local_embedding = nn.Embedding(ByteVocabulary, config.DLocal);
            local_pad = nn.Parameter(zeros(config.DLocal));
            local_model = new TransformerStack(config.DLocal, config.NLocalLayer, config.NLocalHead, config.ResolvedDLocalMlp, config.RopeTheta, config.NormEpsilon, config.Dropout, "local_model");
            lm_head = nn.Linear(config.DLocal, ByteVocabulary, hasBias: false);
            RegisterComponents();
        }

        var generator = new Generator(unchecked((ulong)config.Seed));
        using (no_grad())
        {
            foreach (Tensor t in new[] { global_embedding.weight!, global_pad, global_position, global_to_local.weight!, local_embedding.weight!, local_pad, lm_head.weight! })
                t.normal_(0.0, 0.02, generator);
            global_model.Initialise(generator);
            local_model.Initialise(generator);
        }
    }

    public MegaByteConfig Config { get; }

    private int P => Config.PatchSize;

    public override string Architecture => MegaByteConfig.ArchitectureName;

    public override JsonObject ConfigJson() => Config.ConfigJson();

    /// <summary>The learned patch positions end at max_context.</summary>
    public override int? MaxWindow => Config.MaxContext;

    /// <summary><paramref name="bytes"/> (b, l) int64 → next-byte logits (b, l, 256).</summary>
    public override Tensor forward(Tensor bytes)
    {
        ModelInput.CheckBytes(bytes, 2, Name);
        using var scope = NewDisposeScope();
        long batch = bytes.shape[0], length = bytes.shape[1];
        long patches = PatchCount(length);
        Tensor sequence = Padded(bytes, patches);                                                      // (b, K·P)
        Tensor conditioning = Global(ShiftedPatches(sequence, patches), 0, null);                      // (b, K, P, d_local)
        Tensor logits = Local(LocalInputs(sequence.view(batch, patches, P), conditioning), null);      // (b, K, P, 256)
        return logits.view(batch, patches * P, ByteVocabulary).narrow(1, 1, length).MoveToOuterDisposeScope();  // (b, l, 256)
    }

    public override IInferenceState NewState(int batchSize) => new MegaByteInferenceState(batchSize, Config.NGlobalLayer, Config.NLocalLayer);

    /// <summary>
    /// Runs <paramref name="bytes"/> (b, l) in parallel on a fresh state (one global pass filling the global
    /// caches, the last patch's local positions filling the local caches); on a state that already holds bytes it steps byte by byte.
    /// </summary>
    public override Tensor Prefill(Tensor bytes, IInferenceState state)
    {
        ModelInput.CheckBytes(bytes, 2, Name);
        var typed = ModelInput.State<MegaByteInferenceState>(state, bytes, Name);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long batch = bytes.shape[0], length = bytes.shape[1];
        if (length == 0) return zeros([batch, 0, ByteVocabulary], dtype: global_pad.dtype, device: bytes.device).MoveToOuterDisposeScope();
        if (typed.Position > 0 || typed.Started)
        {
            var steps = new Tensor[length];
            for (long t = 0; t < length; t++) steps[t] = Step(bytes.select(1, t), typed);
            return stack(steps, 1).MoveToOuterDisposeScope();                                          // (b, l, 256)
        }

        long patches = PatchCount(length);
        Tensor sequence = Padded(bytes, patches);                                                      // (b, K·P)
        Tensor conditioning = Global(ShiftedPatches(sequence, patches), 0, typed.GlobalCaches);        // (b, K, P, d_local)
        Tensor localInputs = LocalInputs(sequence.view(batch, patches, P), conditioning);              // (b, K, P, d_local)
        Tensor logits = Local(localInputs, null).view(batch, patches * P, ByteVocabulary).narrow(1, 1, length);

        // The last patch holds the model's positions (K−1)·P … l; replay them into the local caches.
        long lastStart = (patches - 1) * P, filled = length - lastStart;                               // real bytes in the last patch
        Local(localInputs.narrow(1, patches - 1, 1).narrow(2, 0, filled + 1), typed.LocalCaches);
        typed.SetConditioning(conditioning.select(1, patches - 1));                                   // (b, P, d_local)
        Tensor patchBytes = zeros([batch, P], dtype: int64, device: bytes.device);
        if (filled > 0) patchBytes.narrow(1, 0, filled).copy_(bytes.narrow(1, lastStart, filled));
        typed.SetPatchBytes(patchBytes);
        typed.Advance(length);
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>Consumes byte t (b) and returns the logits of byte t+1 (b, 256): a global step first when t+1 starts a patch.</summary>
    public override Tensor Step(Tensor bytes, IInferenceState state)
    {
        ModelInput.CheckBytes(bytes, 1, Name);
        var typed = ModelInput.State<MegaByteInferenceState>(state, bytes, Name);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long batch = bytes.shape[0];
        if (!typed.Started) Start(typed, batch, bytes.device);

        long t = typed.Position, next = t + 1;
        typed.PatchBytes.select(1, t % P).copy_(bytes);
        int slot = (int)(next % P);
        Tensor localInput;
        if (slot == 0)
        {
            long patch = next / P;
            CheckPatches(patch + 1);
            Tensor patchInput = global_embedding.forward(typed.PatchBytes).view(batch, 1, Config.DGlobal);   // (b, 1, D)
            typed.SetConditioning(Global(patchInput, patch, typed.GlobalCaches).select(1, 0));              // (b, P, d_local)
            typed.ClearLocal();
            localInput = local_pad.expand(batch, -1);                                                         // (b, d_local)
        }
        else
        {
            localInput = local_embedding.forward(bytes);                                                      // (b, d_local)
        }
        localInput = localInput + typed.Conditioning.select(1, slot);
        Tensor logits = Local(localInput.view(batch, 1, 1, Config.DLocal), typed.LocalCaches);              // (b, 1, 1, 256)
        typed.Advance(1);
        return logits.view(batch, ByteVocabulary).MoveToOuterDisposeScope();
    }

    public override double TrainingFlopsPerByte(int contextLength) => Config.TrainingFlopsPerByte(contextLength);

    public override double GenerationFlopsPerByte(long position) => Config.GenerationFlopsPerByte(position);

    /// <summary>The model's position 0: the padding patch's global step and the padding byte's local step.</summary>
    private void Start(MegaByteInferenceState state, long batch, Device device)
    {
        Tensor conditioning = Global(global_pad.expand(batch, 1, -1), 0, state.GlobalCaches).select(1, 0);   // (b, P, d_local)
        state.SetConditioning(conditioning);
        state.ClearLocal();
        Tensor first = local_pad.expand(batch, -1) + conditioning.select(1, 0);                                 // (b, d_local)
        Local(first.view(batch, 1, 1, Config.DLocal), state.LocalCaches);
        state.SetPatchBytes(zeros([batch, P], dtype: int64, device: device));
    }

    /// <summary>Patches needed to predict bytes 1 … l from l input bytes: the model's positions 0 … l.</summary>
    private long PatchCount(long length)
    {
        long patches = length / P + 1;
        CheckPatches(patches);
        return patches;
    }

    private void CheckPatches(long patches)
    {
        if (patches > Config.MaxPatches)
            throw new ArgumentException($"{Name}: context of {(patches - 1) * P} bytes exceeds max_context {Config.MaxContext} (the learned patch positions end there)");
    }

    /// <summary>(b, l) → (b, K·P) with zero bytes after the input; they only feed positions after the last scored one.</summary>
    private Tensor Padded(Tensor bytes, long patches)
    {
        Tensor padding = zeros([bytes.shape[0], patches * P - bytes.shape[1]], dtype: int64, device: bytes.device);
        return cat([bytes, padding], 1);                                                                // (b, K·P)
    }

    /// <summary>Global inputs of patches 0 … K−1: the padding patch, then the embeddings of patches 0 … K−2.</summary>
    private Tensor ShiftedPatches(Tensor sequence, long patches)
    {
        long batch = sequence.shape[0];
        Tensor pad = global_pad.expand(batch, 1, -1);                                                   // (b, 1, D)
        if (patches == 1) return pad;
        Tensor previous = global_embedding.forward(sequence.narrow(1, 0, (patches - 1) * P))
            .view(batch, patches - 1, Config.DGlobal);                                                  // (b, K−1, D)
        return cat([pad, previous], 1);                                                                 // (b, K, D)
    }

    /// <summary>Global model over patch inputs (b, n, D) starting at patch <paramref name="first"/> → conditioning (b, n, P, d_local).</summary>
    private Tensor Global(Tensor patchInputs, long first, IReadOnlyList<KvCache>? caches)
    {
        long batch = patchInputs.shape[0], count = patchInputs.shape[1];
        Tensor positions = global_position.narrow(0, first, count);          // (n, D)
        Tensor output = global_model.Forward(patchInputs + positions, caches);                          // (b, n, D)
        return global_to_local.forward(output.view(batch, count, P, Config.ByteEmbeddingWidth));        // (b, n, P, d_local)
    }

    /// <summary>Local inputs (b, K, P, d_local): byte embeddings shifted right by one inside each patch, plus conditioning.</summary>
    private Tensor LocalInputs(Tensor patchBytes, Tensor conditioning)
    {
        long batch = patchBytes.shape[0], patches = patchBytes.shape[1];
        Tensor embedded = local_embedding.forward(patchBytes);                                          // (b, K, P, d_local)
        Tensor pad = local_pad.expand(batch, patches, 1, -1);                                           // (b, K, 1, d_local)
        Tensor shifted = cat([pad, embedded.narrow(2, 0, P - 1)], 2);                                   // (b, K, P, d_local)
        return shifted + conditioning;
    }

    /// <summary>Local model over (b, n, s, d_local) slots → logits (b, n, s, 256); with caches n must be 1.</summary>
    private Tensor Local(Tensor inputs, IReadOnlyList<KvCache>? caches)
    {
        long batch = inputs.shape[0], patches = inputs.shape[1], slots = inputs.shape[2];
        Tensor output = local_model.Forward(inputs.reshape(batch * patches, slots, Config.DLocal), caches);  // (b·n, s, d_local)
        return lm_head.forward(output).view(batch, patches, slots, ByteVocabulary);                     // (b, n, s, 256)
    }
}
