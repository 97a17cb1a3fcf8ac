namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// Raw addresses and sizes handed to <see cref="SelectiveScanKernel{T}"/> (0 = absent). The tensors behind them are
/// contiguous, in the kernel's element type, and kept alive by the caller for the duration of the call.
/// </summary>
internal readonly record struct ScanBuffers
{
    public long Batch { get; init; }
    public long Channels { get; init; }
    public long Length { get; init; }
    public long PaddedStates { get; init; }
    public long ChunkLength { get; init; }
    public long Chunks { get; init; }
    public bool Softplus { get; init; }

    public nint U { get; init; }
    public nint Delta { get; init; }
    public nint A { get; init; }
    public nint Bt { get; init; }
    public nint Ct { get; init; }
    public nint D { get; init; }
    public nint Z { get; init; }
    public nint DeltaBias { get; init; }
    public nint H0 { get; init; }

    public nint Y { get; init; }
    public nint Last { get; init; }
    public nint Checkpoints { get; init; }

    public nint GradY { get; init; }
    public nint GradLast { get; init; }
    public nint GradU { get; init; }
    public nint GradDelta { get; init; }
    public nint GradZ { get; init; }
    public nint GradAPartial { get; init; }
    public nint GradDPartial { get; init; }
    public nint GradH0 { get; init; }
    public nint DBtPartial { get; init; }
    public nint DCtPartial { get; init; }
}
