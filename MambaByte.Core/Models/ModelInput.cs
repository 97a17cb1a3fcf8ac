using static TorchSharp.torch;

namespace MambaByte.Core.Models;

/// <summary>Input checks every architecture shares (byte ids, its inference state), with messages that say what was wrong.</summary>
public static class ModelInput
{
    public static void CheckBytes(Tensor bytes, int dimensions, string model)
    {
        if (bytes.dim() != dimensions)
            throw new ArgumentException($"{model}: expected {(dimensions == 2 ? "(batch, length)" : "(batch)")} byte ids, got shape ({string.Join(", ", bytes.shape)})");
        if (bytes.dtype != int64)
            throw new ArgumentException($"{model}: byte ids must be int64, got {bytes.dtype}");
    }

    /// <summary>The state as the model's own type, holding <paramref name="bytes"/>' batch.</summary>
    public static T State<T>(IInferenceState state, Tensor bytes, string model) where T : class, IInferenceState =>
        State<T>(state, bytes.shape[0], model);

    /// <summary>The state as the model's own type, holding <paramref name="batch"/> sequences.</summary>
    public static T State<T>(IInferenceState state, long batch, string model) where T : class, IInferenceState
    {
        if (state is not T typed)
            throw new ArgumentException($"{model}: expected a {typeof(T).Name}, got {state.GetType().Name} (create it with NewState)");
        if (batch != typed.BatchSize)
            throw new ArgumentException($"{model}: the state holds {typed.BatchSize} sequences but {batch} were given");
        return typed;
    }
}
