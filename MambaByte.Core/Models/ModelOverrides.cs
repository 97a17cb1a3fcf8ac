namespace MambaByte.Core.Models;

/// <summary><c>--d-model</c>, <c>--n-layer</c> (0 = keep the preset's) and the training <c>--context</c> applied to a preset.</summary>
public sealed record ModelOverrides(int DModel, int NLayer, int Context);
