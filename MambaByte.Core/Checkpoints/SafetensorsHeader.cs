namespace MambaByte.Core.Checkpoints;

/// <summary>A parsed safetensors header: tensor entries by name and the <c>__metadata__</c> strings.</summary>
public sealed record SafetensorsHeader(IReadOnlyDictionary<string, SafetensorsEntry> Tensors, IReadOnlyDictionary<string, string> Metadata);
