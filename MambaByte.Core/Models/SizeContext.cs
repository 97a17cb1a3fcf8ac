namespace MambaByte.Core.Models;

/// <summary>What a model built from a size knob must handle: training windows of <see cref="Context"/> bytes and generation up to 0-based position <see cref="MaxPosition"/>.</summary>
public sealed record SizeContext(int Context, long MaxPosition);
