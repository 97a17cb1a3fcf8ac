namespace MambaByte.Core.Native;

/// <summary>libtorch could not be loaded; the message carries the dynamic loader's own reason.</summary>
public sealed class TorchLoadException(string message, Exception inner) : Exception(message, inner);
