using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Core.Ops;

/// <summary>
/// The selective scan of Mamba (S6), as <c>selective_scan_fn</c> / <c>selective_scan_ref</c> in
/// <c>mamba_ssm/ops/selective_scan_interface.py</c>, with one addition: gradients also flow into
/// <c>initialState</c> and out of the returned last state, so a long document can be trained window by window
/// with the state carried across (state-spaces/mamba #258, #536).
///
/// Shapes (b batch, d channels = d_inner, n = d_state, l length):
/// u, delta, z: (b, d, l); A: (d, n); B, C: (b, n, l); D, deltaBias: (d); initialState and last state: (b, d, n).
///
///   Δ  = softplus(delta + deltaBias)            (softplus only when deltaSoftplus)
///   h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t u_t     (h_0 = initialState, or zeros)
///   y_t = C_t · h_t + D ⊙ u_t;   y_t ⊙= silu(z_t) when z is given
///
/// Every implementation computes in float32 at least (half and bfloat16 inputs are upcast, as the reference
/// does) and in float64 when given float64, and returns y in the input dtype and the last state in the
/// compute dtype.
/// </summary>
public static partial class SelectiveScan
{
    /// <summary>
    /// The definition: a sequential loop over time in plain tensor ops. Memory O(b·d·l·n) for the discretised
    /// A and B·u plus the autograd graph of l steps; slow, obviously correct, differentiable by autograd.
    /// </summary>
    public static ScanResult Reference(
        Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C,
        Tensor? D = null, Tensor? z = null, Tensor? deltaBias = null, bool deltaSoftplus = false,
        Tensor? initialState = null, bool returnLastState = false)
    {
        CheckShapes(u, delta, A, B, C, D, z, deltaBias, initialState);
        ScalarType inputType = u.dtype;
        ScalarType compute = ComputeType(inputType);
        using var scope = NewDisposeScope();

        var (uc, deltaA, deltaBu, Cc) = Discretize(u, delta, A, B, C, deltaBias, deltaSoftplus, compute);
        long batch = u.shape[0], channels = u.shape[1], length = u.shape[2], states = A.shape[1];
        Tensor h = initialState?.to_type(compute) ?? zeros(batch, channels, states, dtype: compute, device: u.device);

        // unbind, not select(t) per step: select's backward writes a full-size zero tensor each step (quadratic in l).
        Tensor[] decays = deltaA.unbind(2), inputs = deltaBu.unbind(2), readouts = Cc.unbind(2);  // l × (b, d, n), l × (b, n)
        var ys = new Tensor[length];
        for (long t = 0; t < length; t++)
        {
            h = decays[t] * h + inputs[t];                                                        // (b, d, n)
            ys[t] = (h * readouts[t].unsqueeze(1)).sum(-1);                                      // (b, d)
        }
        Tensor y = Readout(length > 0 ? stack(ys, dim: 2) : zeros_like(uc), uc, D, z, compute);  // (b, d, l)

        Tensor output = y.to_type(inputType).MoveToOuterDisposeScope();
        Tensor? last = returnLastState ? h.MoveToOuterDisposeScope() : null;
        return new ScanResult(output, last);
    }

    /// <summary>Runs the implementation <paramref name="kind"/> names; <see cref="SelectiveScanKind.Auto"/> picks the fastest correct one for the device.</summary>
    public static ScanResult Run(
        SelectiveScanKind kind,
        Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C,
        Tensor? D = null, Tensor? z = null, Tensor? deltaBias = null, bool deltaSoftplus = false,
        Tensor? initialState = null, bool returnLastState = false)
    {
        return Resolve(kind, u) switch
        {
            SelectiveScanKind.Reference => Reference(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, initialState, returnLastState),
            SelectiveScanKind.Parallel => Parallel(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, initialState, returnLastState),
            SelectiveScanKind.FusedCpu => FusedCpu(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, initialState, returnLastState),
            var other => throw new ArgumentException($"selective scan: unknown kind '{other}'"),
        };
    }

    /// <summary>
    /// The implementation <see cref="Run"/> uses for <paramref name="kind"/> on <paramref name="u"/>'s device and dtype:
    /// Auto is <see cref="SelectiveScanKind.FusedCpu"/> for float32/float64 CPU tensors and
    /// <see cref="SelectiveScanKind.Parallel"/> otherwise (CUDA, half, bfloat16).
    /// </summary>
    public static SelectiveScanKind Resolve(SelectiveScanKind kind, Tensor u) => kind switch
    {
        SelectiveScanKind.Auto when u.device_type == DeviceType.CPU && u.dtype is ScalarType.Float32 or ScalarType.Float64 => SelectiveScanKind.FusedCpu,
        SelectiveScanKind.Auto => SelectiveScanKind.Parallel,
        _ => kind,
    };

    /// <summary>float32 for half/bfloat16/float32 inputs, float64 for float64.</summary>
    public static ScalarType ComputeType(ScalarType input) => input == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    /// <summary>
    /// The discretisation both tensor-op scans share: inputs in the compute dtype, Δ = softplus(delta + bias),
    /// decay = exp(Δ·A) and input = Δ·B·u, each (b, d, l, n); C is returned upcast.
    /// </summary>
    static (Tensor U, Tensor Decay, Tensor Input, Tensor C) Discretize(
        Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? deltaBias, bool deltaSoftplus, ScalarType compute)
    {
        Tensor uc = u.to_type(compute), dt = delta.to_type(compute);
        if (deltaBias is not null) dt = dt + deltaBias.to_type(compute).unsqueeze(-1);        // (b, d, l)
        if (deltaSoftplus) dt = nn.functional.softplus(dt);
        Tensor decay = (dt.unsqueeze(-1) * A.to_type(compute).unsqueeze(1)).exp();            // (b, d, l, n)
        Tensor input = (dt * uc).unsqueeze(-1) * B.to_type(compute).transpose(1, 2).unsqueeze(1); // (b, d, l, n)
        return (uc, decay, input, C.to_type(compute));
    }

    /// <summary>y = C·h (given) + D ⊙ u, then gated by silu(z): the output side both tensor-op scans share.</summary>
    static Tensor Readout(Tensor y, Tensor uc, Tensor? D, Tensor? z, ScalarType compute)
    {
        if (D is not null) y = y + uc * D.to_type(compute).unsqueeze(-1);
        if (z is not null) y = y * nn.functional.silu(z.to_type(compute));
        return y;
    }

    static void CheckShapes(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z, Tensor? deltaBias, Tensor? initialState)
    {
        if (u.dim() != 3) throw new ArgumentException($"selective scan: u must be (batch, d_inner, length), got [{string.Join(", ", u.shape)}]");
        long b = u.shape[0], d = u.shape[1], l = u.shape[2];
        if (A.dim() != 2 || A.shape[0] != d) throw new ArgumentException($"selective scan: A must be ({d}, d_state), got [{string.Join(", ", A.shape)}]");
        long n = A.shape[1];
        Expect("delta", delta, b, d, l);
        Expect("B", B, b, n, l);
        Expect("C", C, b, n, l);
        if (z is not null) Expect("z", z, b, d, l);
        if (initialState is not null) Expect("initialState", initialState, b, d, n);
        if (D is not null && (D.dim() != 1 || D.shape[0] != d)) throw new ArgumentException($"selective scan: D must be ({d}), got [{string.Join(", ", D.shape)}]");
        if (deltaBias is not null && (deltaBias.dim() != 1 || deltaBias.shape[0] != d)) throw new ArgumentException($"selective scan: deltaBias must be ({d}), got [{string.Join(", ", deltaBias.shape)}]");
    }

    static void Expect(string name, Tensor t, params long[] shape)
    {
        if (!t.shape.SequenceEqual(shape))
            throw new ArgumentException($"selective scan: {name} must be ({string.Join(", ", shape)}), got [{string.Join(", ", t.shape)}]");
    }
}
