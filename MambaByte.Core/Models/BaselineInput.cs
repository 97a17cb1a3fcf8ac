using static TorchSharp.torch;

namespace MambaByte.Core.Models;

/// <summary>Input checks shared by the baselines, with messages that say what was wrong.</summary>
internal static class BaselineInput
{
    public static void CheckBytes(Tensor bytes, int dimensions, string model)
    {
        if (bytes.dim() != dimensions)
            throw new ArgumentException($"{model}: expected {(dimensions == 2 ? "(batch, length)" : "(batch)")} byte ids, got shape ({string.Join(", ", bytes.shape)})");
        if (bytes.dtype != int64)
            throw new ArgumentException($"{model}: byte ids must be int64, got {bytes.dtype}");
    }

    public static T State<T>(IInferenceState state, Tensor bytes, string model) where T : class, IInferenceState
    {
        if (state is not T typed)
            throw new ArgumentException($"{model}: expected a {typeof(T).Name}, got {state.GetType().Name} (create it with NewState)");
        if (bytes.shape[0] != typed.BatchSize)
            throw new ArgumentException($"{model}: the state holds {typed.BatchSize} sequences but {bytes.shape[0]} were given");
        return typed;
    }
}
