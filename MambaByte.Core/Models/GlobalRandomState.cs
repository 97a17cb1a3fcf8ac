using static TorchSharp.torch;

namespace MambaByte.Core.Models;

/// <summary>
/// Puts torch's global generator back as it was when the scope opened. Module constructors (nn.Linear, nn.Embedding,
/// nn.Conv1d) draw their default initialisation from it, and Mamba's reference initialisation is defined through it,
/// so a model constructor runs inside one of these: building a model never moves the caller's random stream.
/// </summary>
public sealed class GlobalRandomState : IDisposable
{
    readonly Tensor saved;

    GlobalRandomState(long? seed)
    {
        saved = get_rng_state();
        if (seed is long s) manual_seed(s);
    }

    /// <summary>Saves the global generator's state; <see cref="Dispose"/> restores it.</summary>
    public static GlobalRandomState Preserve() => new(null);

    /// <summary>Saves the global generator's state and seeds it with <paramref name="seed"/> for the scope.</summary>
    public static GlobalRandomState Seeded(long seed) => new(seed);

    public void Dispose()
    {
        set_rng_state(saved);
        saved.Dispose();
    }
}
