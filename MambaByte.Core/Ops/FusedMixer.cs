using System.Runtime.Intrinsics;
using MambaByte.Core.Ops.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Core.Ops;

/// <summary>
/// The CPU mixer's two fused kernels (<see cref="MixerKernel{T}"/>), each one custom autograd node with a recomputing
/// backward, working on the (b, l, ·) tensors the projections produce so that nothing is transposed or copied between
/// in_proj, x_proj, dt_proj and out_proj:
///   <see cref="ConvSilu"/>: xc = silu(causal depthwise conv(x) + bias), x = xz[..., :e];
///   <see cref="Scan"/>: y = (C·h + D·xc)·silu(z), h_t = exp(softplus(Δ_t + bias)·A)·h_{t−1} + softplus(…)·B_t·xc_t.
/// Without a carried state, <see cref="Mixer"/> runs a whole layer (the four projections' products and both kernels)
/// as one autograd node instead (<see cref="FusedMixerFunction"/>).
/// The tensor-op mixer (conv1d, silu, transposes, <see cref="SelectiveScan.Run"/>) is the reference they must equal.
/// float32/float64 computation (half and bfloat16 inputs are upcast to float32); CPU tensors only.
/// </summary>
public static class FusedMixer
{
    /// <summary>
    /// How many threads a kernel call may use (default: every core). 1 runs each call on the calling thread. The kernels
    /// use .NET's thread pool, beside libtorch's OpenMP pool (which waits passively between ops, see TorchRuntime).
    /// </summary>
    public static int Threads
    {
        get => threads;
        set => threads = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "fused mixer threads must be >= 1");
    }

    static int threads = Environment.ProcessorCount;

    /// <summary>
    /// The SIMD width of the scan kernels on this thread: 512 where the CPU runs 512-bit vectors natively (AVX-512), else
    /// 256. Setting it affects only the calling thread (tests run both widths side by side; 512 without hardware
    /// support is correct but slow, through .NET's software fallback); null goes back to the detected width.
    /// </summary>
    public static int? VectorBits
    {
        get => vectorBits ?? DetectedVectorBits;
        set => vectorBits = value is null or 256 or 512 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "fused mixer vector width must be 256 or 512");
    }

    /// <summary>512 when <see cref="Vector512.IsHardwareAccelerated"/>, else 256.</summary>
    public static int DetectedVectorBits { get; } = Vector512.IsHardwareAccelerated ? 512 : 256;

    [ThreadStatic] static int? vectorBits;

    /// <summary>Whether the fused kernels can run on tensors of this device and dtype.</summary>
    public static bool Supports(Device device, ScalarType dtype) =>
        device.type == DeviceType.CPU && dtype is ScalarType.Float32 or ScalarType.Float64 or ScalarType.BFloat16 or ScalarType.Float16;

    /// <summary>
    /// xz (b, l, 2e), conv weight (e, 1, k), bias (e)?, left context (b, e, k−1)? (the conv state's last k−1 inputs;
    /// zeros when null) → silu(conv) (b, l, e) in the compute dtype.
    /// </summary>
    public static Tensor ConvSilu(Tensor xz, Tensor convWeight, Tensor? convBias, Tensor? left)
    {
        Check(xz);
        ScalarType compute = SelectiveScan.ComputeType(xz.dtype);
        using var scope = NewDisposeScope();
        Tensor? leftT = left?.transpose(1, 2).to_type(compute).contiguous();                // (b, k-1, e)
        object?[] args = [Ready(xz, compute), Ready(convWeight, compute), convBias is null ? null : Ready(convBias, compute), leftT];
        return FusedConvFunction.apply(args!).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The gated selective scan over (b, l, ·): u = xc (b, l, e), delta = dt_proj output without its bias (b, l, e),
    /// A (e, n) — or A_log when <paramref name="aIsLog"/>, A = −exp(A_log) then being formed inside the kernel with its
    /// gradient going to A_log —, xDbl = x_proj output (b, l, dtRank + 2n) holding B then C after the first dtRank columns,
    /// D (e)?, xz (b, l, 2e)? whose second half is the gate z, deltaBias (e)?, initial state (b, e, n)?. Returns y (b, l, e)
    /// in the compute dtype and, when asked, the last state (b, e, n); gradients flow into every tensor input,
    /// the initial state included.
    /// </summary>
    public static ScanResult Scan(
        Tensor u, Tensor delta, Tensor A, Tensor xDbl, long dtRank, Tensor? D, Tensor? xz, Tensor? deltaBias,
        Tensor? initialState, bool deltaSoftplus, bool returnLastState, bool aIsLog = false)
    {
        Check(u);
        ScalarType compute = SelectiveScan.ComputeType(u.dtype);
        using var scope = NewDisposeScope();
        Tensor?[] inputs = [u, delta, A, xDbl, D, xz, deltaBias, initialState];
        bool keepCheckpoints = is_grad_enabled() && inputs.Any(t => t is not null && t.requires_grad);
        object?[] args =
        [
            Ready(u, compute), Ready(delta, compute), Ready(A, compute), Ready(xDbl, compute), D is null ? null : Ready(D, compute),
            xz is null ? null : Ready(xz, compute), deltaBias is null ? null : Ready(deltaBias, compute),
            initialState is null ? null : Ready(initialState.transpose(1, 2), compute), dtRank, deltaSoftplus, keepCheckpoints, aIsLog,
        ];
        List<Tensor> outputs = FusedMixerScanFunction.apply(args!);
        Tensor y = outputs[0].MoveToOuterDisposeScope();                                    // (b, l, e)
        Tensor? last = returnLastState ? outputs[1].transpose(1, 2).MoveToOuterDisposeScope() : null; // (b, e, n)
        return new ScanResult(y, last);
    }

    /// <summary>
    /// A whole mixer layer without carried state as one autograd node (<see cref="FusedMixerFunction"/>): hidden (b, l, d)
    /// in the projections' dtype → out_proj's output (b, l, d). The same computation as in_proj, <see cref="ConvSilu"/>,
    /// x_proj, dt_proj, <see cref="Scan"/> (A = −exp(A_log), softplus(Δ + dt_proj.bias), D skip, silu(z) gate) and
    /// out_proj composed, with the projections' products on the calling thread when they are small.
    /// </summary>
    public static Tensor Mixer(
        Tensor hidden, Tensor inWeight, Tensor? inBias, Tensor convWeight, Tensor? convBias, Tensor xWeight, Tensor dtWeight,
        Tensor dtBias, Tensor aLog, Tensor D, Tensor outWeight, Tensor? outBias, long dtRank)
    {
        Check(hidden);
        using var scope = NewDisposeScope();
        Tensor?[] inputs = [hidden, inWeight, inBias, convWeight, convBias, xWeight, dtWeight, dtBias, aLog, D, outWeight, outBias];
        bool keepForBackward = is_grad_enabled() && inputs.Any(t => t is not null && t.requires_grad);
        object?[] args = [Ready(hidden, hidden.dtype), inWeight, inBias, convWeight, convBias, xWeight, dtWeight, dtBias, aLog, D, outWeight, outBias, dtRank, keepForBackward];
        return FusedMixerFunction.apply(args!).MoveToOuterDisposeScope();
    }

    /// <summary>The tensor in the compute dtype and contiguous: itself when it already is (no new handle per call).</summary>
    internal static Tensor Ready(Tensor t, ScalarType compute) => t.dtype == compute && t.is_contiguous() ? t : t.to_type(compute).contiguous();

    static void Check(Tensor t)
    {
        if (!Supports(t.device, t.dtype))
            throw new ArgumentException($"fused mixer: runs on CPU float tensors only, got {t.dtype} on {t.device}; use the tensor-op mixer");
    }
}
