using System.Numerics;
using System.Numerics.Tensors;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// Rows of mamba_ssm's fused add + RMSNorm (<c>layer_norm_fn(x, weight, None, residual=…, prenorm=True,
/// residual_in_fp32=True, is_rms_norm=True)</c> in <c>mamba_ssm/ops/triton/layer_norm.py</c>) on raw CPU memory, in the
/// compute type <typeparamref name="T"/> (float or double): s = x + residual, y = s·rstd·w with rstd = 1/√(mean(s²) + eps),
/// and the backward ∂L/∂s = (w·g − ŝ·mean(ŝ·w·g))·rstd + ∂L/∂s_out with ŝ = s·rstd, ∂L/∂w = Σ_rows g·ŝ. x and y may be
/// bfloat16 (raw bits) when T is float; the residual and everything else are T. Each row is one task's span of d
/// values, so the arithmetic runs through <see cref="TensorPrimitives"/> (SIMD at the machine's width).
/// </summary>
internal static unsafe class AddRmsNormKernel<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>, IRootFunctions<T>
{
    /// <summary>How many tasks a call of this size splits its rows into (each has its own ∂L/∂w partial).</summary>
    public static int Tasks(long rows, int width) => MixerKernel<T>.Tasks(rows, rows * width);

    public static void Forward(in AddRmsNormRows p)
    {
        AddRmsNormRows args = p;
        int tasks = Tasks(args.Count, args.Width);
        Run(tasks, task =>
        {
            T[] scratch = new T[2 * args.Width];
            Span<T> s = scratch.AsSpan(0, args.Width), y = scratch.AsSpan(args.Width, args.Width);
            ReadOnlySpan<T> w = new((T*)args.Weight, args.Width);
            for (long r = args.Count * task / tasks, end = args.Count * (task + 1) / tasks; r < end; r++)
            {
                T rstd = SumAndRstd(args, r, s);
                ((T*)args.Rstd)[r] = rstd;
                if (args.Sum != 0) s.CopyTo(Row(args.Sum, r, args.Width));
                TensorPrimitives.Multiply(s, rstd, y);                                           // (s·rstd)·w, in the reference's order
                TensorPrimitives.Multiply(y, w, y);
                Store(y, args.Output, args.OutputBFloat16, r, args.Width);
            }
        });
    }

    public static void Backward(in AddRmsNormRows p, int tasks)
    {
        AddRmsNormRows args = p;
        Run(tasks, task =>
        {
            int d = args.Width;
            T[] scratch = new T[3 * d];
            Span<T> s = scratch.AsSpan(0, d), g = scratch.AsSpan(d, d), wg = scratch.AsSpan(2 * d, d);
            ReadOnlySpan<T> w = new((T*)args.Weight, d);
            Span<T> dw = Row(args.GradWeightPartial, task, d);
            dw.Clear();
            T inverseWidth = T.One / T.CreateChecked(d);
            for (long r = args.Count * task / tasks, end = args.Count * (task + 1) / tasks; r < end; r++)
            {
                T rstd = ((T*)args.Rstd)[r];
                Sum(args, r, s);                                                                 // s again: cheaper than keeping it
                TensorPrimitives.Multiply(s, rstd, s);                                           // ŝ
                if (args.GradOutput != 0)
                {
                    Load(args.GradOutput, args.OutputBFloat16, r, d, g);
                    TensorPrimitives.MultiplyAdd(g, s, dw, dw);                                  // ∂L/∂w += g·ŝ
                    TensorPrimitives.Multiply(g, w, wg);
                    T mean = TensorPrimitives.Dot(s, (ReadOnlySpan<T>)wg) * inverseWidth;
                    TensorPrimitives.MultiplyAdd(s, -mean, wg, wg);                              // w·g − ŝ·mean(ŝ·w·g)
                    TensorPrimitives.Multiply(wg, rstd, wg);
                }
                else wg.Clear();
                if (args.GradSum != 0) TensorPrimitives.Add(wg, Row(args.GradSum, r, d), wg);
                if (args.GradResidual != 0) wg.CopyTo(Row(args.GradResidual, r, d));
                Store(wg, args.GradInput, args.InputBFloat16, r, d);
            }
        });
    }

    // s = x + residual for row r.
    static void Sum(in AddRmsNormRows p, long r, Span<T> s)
    {
        Load(p.Input, p.InputBFloat16, r, p.Width, s);
        if (p.Residual != 0) TensorPrimitives.Add(s, Row(p.Residual, r, p.Width), s);
    }

    // s = x + residual for row r; returns rstd = 1/√(mean(s²) + eps).
    static T SumAndRstd(in AddRmsNormRows p, long r, Span<T> s)
    {
        Sum(p, r, s);
        T mean = TensorPrimitives.SumOfSquares<T>(s) / T.CreateChecked(p.Width);
        return T.One / T.Sqrt(mean + T.CreateChecked(p.Eps));
    }

    static Span<T> Row(nint address, long r, int width) => new((T*)address + r * width, width);

    static void Load(nint address, bool bf16, long r, int width, Span<T> target)
    {
        if (!bf16) { Row(address, r, width).CopyTo(target); return; }
        fixed (T* t = target) BFloat16Rows.Widen((ushort*)address + r * width, (float*)t, width);   // T is float whenever bf16 is
    }

    static void Store(Span<T> source, nint address, bool bf16, long r, int width)
    {
        if (!bf16) { source.CopyTo(Row(address, r, width)); return; }
        fixed (T* s = source) BFloat16Rows.Narrow((float*)s, (ushort*)address + r * width, width);
    }

    static void Run(int tasks, Action<int> body)
    {
        if (tasks == 1) body(0);
        else Parallel.For(0, tasks, body);
    }
}

/// <summary>Raw addresses (0 = absent) and sizes of one call; rows × d row-major, all contiguous.</summary>
internal readonly record struct AddRmsNormRows
{
    public long Count { get; init; }
    public int Width { get; init; }
    public double Eps { get; init; }
    /// <summary>x (rows, d) in the compute type, or bf16 bits when <see cref="InputBFloat16"/>.</summary>
    public nint Input { get; init; }
    public bool InputBFloat16 { get; init; }
    public nint Residual { get; init; }
    public nint Weight { get; init; }
    /// <summary>s = x + residual, written when given (the forward's new residual stream).</summary>
    public nint Sum { get; init; }
    /// <summary>y (rows, d) in the compute type, or bf16 bits when <see cref="OutputBFloat16"/>.</summary>
    public nint Output { get; init; }
    public bool OutputBFloat16 { get; init; }
    /// <summary>rstd per row.</summary>
    public nint Rstd { get; init; }

    // Backward: ∂L/∂y (in y's element type)?, ∂L/∂s_out?, ∂L/∂x (x's element type), ∂L/∂residual?,
    // per-task partial sums of ∂L/∂w (tasks, d).
    public nint GradOutput { get; init; }
    public nint GradSum { get; init; }
    public nint GradInput { get; init; }
    public nint GradResidual { get; init; }
    public nint GradWeightPartial { get; init; }
}
