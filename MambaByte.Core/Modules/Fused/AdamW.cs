using System.Numerics;
using System.Runtime.CompilerServices;
using MambaByte.Core.Ops.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MambaByte.Core.Modules.Fused;

/// <summary>
/// TorchSharp's <see cref="TorchSharp.Modules.AdamW"/> with its update done in one pass over each parameter's memory instead of eight
/// tensor ops (mul_, mul_/add_, mul_/addcmul_, sqrt, div, add_, addcdiv_, plus two temporaries): for a float32 or
/// float64 parameter on the CPU with a dense contiguous gradient, p, m and v are read and written once, on
/// <see cref="Ops.FusedMixer.Threads"/> threads. Everything else is the base class's own: parameter groups and their
/// learning rates, the per-parameter state (step, exp_avg, exp_avg_sq), <c>save_state_dict</c>/<c>load_state_dict</c>
/// (checkpoints are interchangeable with plain AdamW), and the whole step whenever a parameter is one the pass does
/// not take (CUDA, half precision, amsgrad, maximize): then <see cref="TorchSharp.Modules.AdamW.step"/> runs. The arithmetic
/// is the base class's, in the same order and precision (the scalars formed in double, rounded once to the
/// parameter's type); tests hold it to plain AdamW over many steps.
/// It is named AdamW (used as <c>Fused.AdamW</c>) because TorchSharp tags a saved optimizer state with the class's
/// name and refuses another: with the same name, checkpoints of the two load into each other both ways.
/// </summary>
public sealed class AdamW : TorchSharp.Modules.AdamW
{
    public AdamW(IEnumerable<ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : base(groups, lr, beta1, beta2, eps, weightDecay, amsgrad: false, maximize: false)
    {
    }

    public AdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : this([new ParamGroup { Parameters = parameters }], lr, beta1, beta2, eps, weightDecay)
    {
    }

    /// <summary>Parameters updated by the fused pass in the last <see cref="step"/> (0 when the base class's step ran).</summary>
    public int FusedLastStep { get; private set; }

    public override Tensor step(Func<Tensor>? closure = null)
    {
        if (!Fusable())
        {
            FusedLastStep = 0;
            return base.step(closure);
        }
        int fused = 0;
        Tensor loss = _step<ParamGroup>(group =>
        {
            var o = (Options)group.Options;
            double lr = o.LearningRate!.Value, beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, eps = o.eps!.Value, decay = o.weight_decay!.Value;
            foreach (Parameter param in group.Parameters)
            {
                using Tensor? grad = param.grad;                                             // a new handle each read
                if (grad is null) continue;
                var state = (State)_state[param.Handle];
                state.step += 1;
                Update(param, grad, state, new Scalars(lr, beta1, beta2, eps, decay, state.step));
                fused++;
            }
        }, closure);
        FusedLastStep = fused;
        return loss;
    }

    /// <summary>Whether the fused pass can take every parameter with a gradient this step (else the whole step is the base class's).</summary>
    bool Fusable()
    {
        foreach (ParamGroup group in ParamGroups.Cast<ParamGroup>())
        {
            var o = (Options)group.Options;
            if (o.amsgrad!.Value || o.maximize!.Value) return false;
            foreach (Parameter param in group.Parameters)
            {
                using Tensor? grad = param.grad;
                if (grad is not null && !Fusable(param, grad, (State)_state[param.Handle])) return false;
            }
        }
        return true;
    }

    /// <summary>The step's scalars, formed in double as <see cref="TorchSharp.Modules.AdamW.step"/> forms them.</summary>
    readonly record struct Scalars(double Lr, double Beta1, double Beta2, double Eps, double Decay, long Step)
    {
        public double Shrink => 1 - Lr * Decay;
        public double BiasCorrection1 => 1 - Math.Pow(Beta1, Step);
        public double SqrtBiasCorrection2 => Math.Sqrt(1 - Math.Pow(Beta2, Step));
        public double StepSize => Lr / BiasCorrection1;
    }

    static bool Fusable(Tensor param, Tensor grad, State state) =>
        param.device_type == DeviceType.CPU && param.dtype is ScalarType.Float32 or ScalarType.Float64
        && grad.dtype == param.dtype && !grad.is_sparse && param.is_contiguous() && grad.is_contiguous()
        && state.exp_avg.dtype == param.dtype && state.exp_avg_sq.dtype == param.dtype
        && state.exp_avg.is_contiguous() && state.exp_avg_sq.is_contiguous();

    static unsafe void Update(Tensor param, Tensor grad, State state, Scalars s)
    {
        long count = param.numel();
        if (count == 0) return;
        nint p = TensorAddress.Of(param), g = TensorAddress.Of(grad), m = TensorAddress.Of(state.exp_avg), v = TensorAddress.Of(state.exp_avg_sq);
        if (param.dtype == ScalarType.Float64) Run<double>(p, g, m, v, count, s);
        else Run<float>(p, g, m, v, count, s);
    }

    /// <summary>Elements per parallel piece: large enough that a piece outweighs its hand-off.</summary>
    const long Piece = 1 << 16;

    static unsafe void Run<T>(nint p, nint g, nint m, nint v, long count, Scalars s) where T : unmanaged, IBinaryFloatingPointIeee754<T>, IRootFunctions<T>
    {
        var k = new Coefficients<T>(s);
        long pieces = (count + Piece - 1) / Piece;
        MixerKernel<T>.For(pieces, count, piece =>
        {
            long first = piece * Piece, length = Math.Min(Piece, count - first);
            Pass((T*)p + first, (T*)g + first, (T*)m + first, (T*)v + first, length, k);
        });
    }

    /// <summary>The scalars rounded once to the parameter's type, as torch rounds a Python float for a float tensor.</summary>
    readonly struct Coefficients<T>(Scalars s) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public readonly T Shrink = T.CreateTruncating(s.Shrink), Beta1 = T.CreateTruncating(s.Beta1), Keep1 = T.CreateTruncating(1 - s.Beta1);
        public readonly T Beta2 = T.CreateTruncating(s.Beta2), Keep2 = T.CreateTruncating(1 - s.Beta2);
        public readonly T SqrtBiasCorrection2 = T.CreateTruncating(s.SqrtBiasCorrection2), Eps = T.CreateTruncating(s.Eps);
        public readonly T NegativeStep = T.CreateTruncating(-s.StepSize);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector<T> Fma<T>(Vector<T> a, Vector<T> b, Vector<T> c) where T : unmanaged => typeof(T) == typeof(float)
        ? Vector.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>()
        : Vector.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Pass<T>(T* p, T* g, T* m, T* v, long count, in Coefficients<T> k) where T : unmanaged, IBinaryFloatingPointIeee754<T>, IRootFunctions<T>
    {
        long i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var shrink = new Vector<T>(k.Shrink); var beta1 = new Vector<T>(k.Beta1); var keep1 = new Vector<T>(k.Keep1);
            var beta2 = new Vector<T>(k.Beta2); var keep2 = new Vector<T>(k.Keep2); var bc2 = new Vector<T>(k.SqrtBiasCorrection2);
            var eps = new Vector<T>(k.Eps); var step = new Vector<T>(k.NegativeStep);
            for (int w = Vector<T>.Count; i + w <= count; i += w)
            {
                Vector<T> gi = Vector.Load(g + i);
                Vector<T> pi = Vector.Load(p + i) * shrink;
                Vector<T> mi = Fma(gi, keep1, Vector.Load(m + i) * beta1);      // torch's add_(g, alpha): fmadd
                Vector<T> vi = Vector.Load(v + i) * beta2 + keep2 * gi * gi;                        // addcmul_: v + (value·g)·g
                Vector<T> denom = Vector.SquareRoot(vi) / bc2 + eps;
                (pi + step * mi / denom).Store(p + i);                                              // addcdiv_: p + (value·m)/denom
                mi.Store(m + i);
                vi.Store(v + i);
            }
        }
        for (; i < count; i++)
        {
            T gi = g[i];
            T mi = T.FusedMultiplyAdd(gi, k.Keep1, m[i] * k.Beta1);
            T vi = v[i] * k.Beta2 + k.Keep2 * gi * gi;
            T denom = T.Sqrt(vi) / k.SqrtBiasCorrection2 + k.Eps;
            p[i] = p[i] * k.Shrink + k.NegativeStep * mi / denom;
            m[i] = mi;
            v[i] = vi;
        }
    }
}
