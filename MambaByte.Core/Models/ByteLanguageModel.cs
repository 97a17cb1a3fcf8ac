using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Core.Models;

/// <summary>
/// The one interface every registered architecture (<see cref="IArchitecture"/>) implements. The trainer,
/// evaluator, generator and comparison use only this, never a concrete type.
/// </summary>
public abstract class ByteLanguageModel : nn.Module<Tensor, Tensor>
{
    /// <summary>Raw UTF-8 bytes: no tokenizer.</summary>
    public const int ByteVocabulary = 256;

    protected ByteLanguageModel(string name) : base(name)
    {
    }

    /// <summary>The registered architecture name (<see cref="IArchitecture.Name"/>), the <c>architecture</c> key of config.json.</summary>
    public abstract string Architecture { get; }

    /// <summary>The config.json written beside model.safetensors (for Mamba, the reference MambaConfig form).</summary>
    public abstract JsonObject ConfigJson();

    /// <summary>Starts an empty inference state for <paramref name="batchSize"/> sequences on the model's device and dtype.</summary>
    public abstract IInferenceState NewState(int batchSize);

    /// <summary>
    /// Runs the full (parallel) forward over <paramref name="bytes"/> (b, l) and leaves <paramref name="state"/>
    /// positioned after the last byte. Returns the logits (b, l, 256).
    /// </summary>
    public abstract Tensor Prefill(Tensor bytes, IInferenceState state);

    /// <summary>Consumes one byte per sequence (b) and returns next-byte logits (b, 256).</summary>
    public abstract Tensor Step(Tensor bytes, IInferenceState state);

    /// <summary>
    /// <see cref="Step"/> for host callers: one byte per sequence, logits (b × 256, row-major) written as float
    /// into <paramref name="logits"/>. This default goes through <see cref="Step"/>; a model with a tensor-free
    /// step (Mamba's fused CPU step) overrides it.
    /// </summary>
    public virtual void StepInto(ReadOnlySpan<byte> bytes, IInferenceState state, Span<float> logits)
    {
        using var scope = NewDisposeScope();
        long[] ids = new long[bytes.Length];
        for (int i = 0; i < ids.Length; i++) ids[i] = bytes[i];
        Device device = parameters().FirstOrDefault()?.device ?? CPU;
        Tensor output = Step(tensor(ids, [ids.Length], device: device), state);                  // (b, 256)
        using Tensor host = output.to(float32).cpu().contiguous();
        host.data<float>().CopyTo(logits[..(ids.Length * ByteVocabulary)]);
    }

    /// <summary>Analytic training FLOPs per byte (forward + backward, 3× forward) at a context length.</summary>
    public abstract double TrainingFlopsPerByte(int contextLength);

    /// <summary>Analytic FLOPs to generate one byte at context position <paramref name="position"/>.</summary>
    public abstract double GenerationFlopsPerByte(long position);

    /// <summary>
    /// Whether AdamW weight decay applies to a parameter. Default: matrices decay, vectors (biases, norm
    /// weights) do not. Mamba also exempts <c>A_log</c> and <c>D</c>, as the reference marks them <c>_no_weight_decay</c>.
    /// </summary>
    /// <summary>The longest window the model can score, or null when its positions set no limit.</summary>
    public virtual int? MaxWindow => null;

    public virtual bool DecaysWeight(string name, Tensor parameter) => parameter.dim() >= 2;

    /// <summary>
    /// Makes this model the low-precision working copy of mixed-precision training: floating-point parameters go to
    /// <paramref name="dtype"/> (bfloat16 or float16) except those the architecture's reference keeps in float32
    /// (<see cref="KeepsFloat32"/>). The forward then runs its matrix products in <paramref name="dtype"/>.
    /// </summary>
    public ByteLanguageModel ToMixedPrecision(ScalarType dtype)
    {
        this.to(dtype);
        KeepFloat32Parameters();
        return this;
    }

    /// <summary>Whether mixed precision keeps a parameter in float32. Default: none (the whole model runs in the low precision).</summary>
    public virtual bool KeepsFloat32(string name) => false;

    /// <summary>Casts the parameters <see cref="KeepsFloat32"/> names back to float32 after a whole-model cast.</summary>
    protected virtual void KeepFloat32Parameters()
    {
    }

    /// <summary>Number of trainable parameters (tied weights counted once).</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>Mean next-byte cross-entropy in nats: <paramref name="input"/> and <paramref name="target"/> are (b, l) int64.</summary>
    public Tensor Loss(Tensor input, Tensor target)
    {
        using var scope = NewDisposeScope();
        Tensor logits = forward(input);                                  // (b, l, 256)
        // Mixed precision: the loss is computed from float32 logits (a bf16 loss moves in steps of 1/64 near 4).
        if (logits.dtype is ScalarType.BFloat16 or ScalarType.Float16) logits = logits.to_type(ScalarType.Float32);
        Tensor loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), target.reshape(-1));
        return loss.MoveToOuterDisposeScope();
    }
}
