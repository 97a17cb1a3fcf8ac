namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// Raw addresses and sizes handed to <see cref="MixerKernel{T}"/> (0 = absent). Everything is in the (b, l, channels)
/// layout the projections produce; the tensors behind the addresses are contiguous, in the kernel's element type, and
/// kept alive by the caller for the duration of the call.
/// </summary>
internal readonly record struct MixerBuffers
{
    public long Batch { get; init; }
    public long Length { get; init; }
    /// <summary>d_inner (e).</summary>
    public long Channels { get; init; }
    /// <summary>d_state (n).</summary>
    public long States { get; init; }
    /// <summary>d_conv (k).</summary>
    public long Kernel { get; init; }
    public long ChunkLength { get; init; }
    public long Chunks { get; init; }
    public bool Softplus { get; init; }

    /// <summary>Row stride of xz = 2e: x is xz[..., :e] and z is xz[..., e:].</summary>
    public long XzStride { get; init; }
    /// <summary>xz, and ∂L/∂xz (<see cref="GradXz"/>, <see cref="GradZ"/>), hold bfloat16 bits (in_proj's dtype under mixed precision); the kernels compute in float.</summary>
    public bool XzBFloat16 { get; init; }
    /// <summary><see cref="Delta"/> holds bfloat16 bits (dt_proj's output under mixed precision).</summary>
    public bool DeltaBFloat16 { get; init; }
    /// <summary><see cref="Y"/> and <see cref="GradY"/> hold bfloat16 bits (out_proj's input and its gradient under mixed precision).</summary>
    public bool YBFloat16 { get; init; }

    /// <summary>Row stride of x_proj's output xDbl (dt_rank + 2n); B starts at <see cref="BOffset"/>, C at <see cref="COffset"/>.</summary>
    public long BcStride { get; init; }
    public long BOffset { get; init; }
    /// <summary>C follows B in each xDbl row (x_proj's (dt_rank, B, C) split), n columns later.</summary>
    public long COffset => BOffset + States;

    // Conv: x (in xz), left context (b, k-1, e), weight (e, k) (conv1d's (e, 1, k)), bias (e), output xc (b, l, e).
    public nint Xz { get; init; }
    public nint Left { get; init; }
    public nint ConvWeight { get; init; }
    public nint ConvBias { get; init; }
    public nint ConvOut { get; init; }
    public nint GradConvOut { get; init; }
    /// <summary>∂L/∂xz written into the x half of a (b, l, 2e) buffer; the z half is zeroed unless <see cref="GradXzHoldsZ"/>.</summary>
    public nint GradXz { get; init; }
    /// <summary>True when <see cref="GradXz"/>'s z half already holds ∂L/∂z (the scan's backward ran first into the same buffer): the conv's backward leaves it.</summary>
    public bool GradXzHoldsZ { get; init; }
    public nint GradLeft { get; init; }
    /// <summary>(b, e, k) and (b, e): per-batch-row partial sums the caller reduces.</summary>
    public nint GradConvWeightPartial { get; init; }
    public nint GradConvBiasPartial { get; init; }

    // Scan: u = xc (b, l, e), delta (b, l, e), A (e, n), B and C inside xDbl, D (e), z inside xz,
    // deltaBias (e), h₀ and last state (b, n, e), checkpoints (b, chunks, n, e), y (b, l, e).
    public nint U { get; init; }
    public nint Delta { get; init; }
    public nint A { get; init; }
    /// <summary>True when <see cref="A"/> holds A_log: the kernel uses A = −exp(A_log) and writes ∂L/∂A_log.</summary>
    public bool ALog { get; init; }
    public nint Bc { get; init; }
    public nint D { get; init; }
    public nint DeltaBias { get; init; }
    public nint H0 { get; init; }
    public nint Y { get; init; }
    public nint Last { get; init; }
    public nint Checkpoints { get; init; }

    public nint GradY { get; init; }
    public nint GradLast { get; init; }
    public nint GradU { get; init; }
    public nint GradDelta { get; init; }
    /// <summary>∂L/∂xz written into the z half (a zero-filled (b, l, 2e) buffer).</summary>
    public nint GradZ { get; init; }
    /// <summary>(b, e, n) and (b, e): per-batch-row partial sums the caller reduces.</summary>
    public nint GradAPartial { get; init; }
    public nint GradDPartial { get; init; }
    public nint GradH0 { get; init; }
    /// <summary>(b, tasks, l, dt_rank + 2n) zero-filled: per-task partial sums of ∂L/∂xDbl (∂L/∂B and ∂L/∂C at their columns) the caller reduces.</summary>
    public nint GradBcPartial { get; init; }
}
