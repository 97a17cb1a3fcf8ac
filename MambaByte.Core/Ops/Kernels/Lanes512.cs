using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// <see cref="ISimdLanes{TSelf, T}"/> on <see cref="Vector512{T}"/>: 16 float or 8 double lanes. The hot operations
/// (multiply-adds, the decay's exponential) run at 512 bits; softplus and sigmoid, once per step rather than once per
/// state, run on the two 256-bit halves through the <see cref="Lanes256{T}"/> code, so both widths share one formula.
/// </summary>
internal readonly unsafe struct Lanes512<T> : ISimdLanes<Lanes512<T>, T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public readonly Vector512<T> V;

    public Lanes512(Vector512<T> v) => V = v;

    public static int Count => Vector512<T>.Count;
    public static Lanes512<T> Zero => new(Vector512<T>.Zero);
    public static Lanes512<T> One => new(Vector512<T>.One);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512<T> Broadcast(T value) => new(Vector512.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512<T> Load(T* source, int lanes) => new(lanes == Count ? Vector512.Load(source) : LoadPartial(source, lanes));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Lanes512<T> value, T* target, int lanes)
    {
        if (lanes == Count) value.V.Store(target);
        else StorePartial(value.V, target, lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512<T> LoadBFloat16(ushort* source, int lanes)
    {
        if (typeof(T) != typeof(float)) throw new NotSupportedException("bug: bf16 values are read into float lanes only");
        Vector256<ushort> bits = lanes == 16 ? Vector256.Load(source) : LoadBFloat16Partial(source, lanes);
        return new(Vector512.ShiftLeft(Vector512.WidenLower(bits.ToVector512Unsafe()), 16).AsSingle().As<float, T>());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBFloat16(Lanes512<T> value, ushort* target, int lanes)
    {
        if (typeof(T) != typeof(float)) throw new NotSupportedException("bug: bf16 values are written from float lanes only");
        Vector256<ushort> bits = Vector512.Narrow(BFloat16Rows.Round(value.V.As<T, float>()), Vector512<uint>.Zero).GetLower();
        if (lanes == 16) bits.Store(target);
        else StoreBFloat16Partial(bits, target, lanes);
    }

    public static Lanes512<T> FromSpan(ReadOnlySpan<T> values) => new(Vector512.Create(values));
    public static T Element(Lanes512<T> value, int lane) => value.V.GetElement(lane);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512<T> operator +(Lanes512<T> a, Lanes512<T> b) => new(a.V + b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512<T> operator -(Lanes512<T> a, Lanes512<T> b) => new(a.V - b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512<T> operator *(Lanes512<T> a, Lanes512<T> b) => new(a.V * b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512<T> Fma(Lanes512<T> a, Lanes512<T> b, Lanes512<T> c)
    {
        if (typeof(T) == typeof(float)) return new(Vector512.FusedMultiplyAdd(a.V.As<T, float>(), b.V.As<T, float>(), c.V.As<T, float>()).As<float, T>());
        if (typeof(T) == typeof(double)) return new(Vector512.FusedMultiplyAdd(a.V.As<T, double>(), b.V.As<T, double>(), c.V.As<T, double>()).As<double, T>());
        return new(a.V * b.V + c.V);
    }

    /// <summary>
    /// Float: <see cref="SelectiveScanKernel{T}.Exp2Float"/>'s polynomial at 512 bits, with AVX-512's own round
    /// (vrndscaleps) and exponent scaling (vscalefps) in place of the rounding-shift trick: the same k and f, so the
    /// same result wherever 2ʸ is a normal float, and an exact 0 or subnormal below it. Double: exact Vector512.Exp.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512<T> Decay(Lanes512<T> dt, Lanes512<T> scaledRate)
    {
        Vector512<T> y = dt.V * scaledRate.V;
        if (typeof(T) == typeof(double)) return new(Vector512.Exp(y.As<T, double>()).As<double, T>());
        Vector512<float> x = y.As<T, float>();
        if (Avx512F.IsSupported) return new(SelectiveScanKernel<float>.Exp2Scaled(x).As<float, T>());
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(-125f)), Vector512.Create(127f));
        Vector512<float> shifted = x + Vector512.Create(SelectiveScanKernel<float>.RoundingShift);
        Vector512<float> f = x - (shifted - Vector512.Create(SelectiveScanKernel<float>.RoundingShift));
        Vector512<float> poly = SelectiveScanKernel<float>.Exp2Polynomial(new Lanes512<float>(f)).V;
        return new((poly.AsInt32() + Vector512.ShiftLeft(shifted.AsInt32(), 23)).AsSingle().As<float, T>());
    }

    /// <summary>Float with AVX-512F: <see cref="SelectiveScanKernel{T}.Softplus512"/>. Otherwise the 256-bit formula on each half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512<T> Softplus(Lanes512<T> x)
    {
        if (typeof(T) == typeof(float) && Avx512F.IsSupported) return new(SelectiveScanKernel<float>.Softplus512(x.V.As<T, float>()).As<float, T>());
        return new(Vector512.Create(SelectiveScanKernel<T>.Softplus(x.V.GetLower()), SelectiveScanKernel<T>.Softplus(x.V.GetUpper())));
    }

    /// <summary>Float with AVX-512F: <see cref="SelectiveScanKernel{T}.Sigmoid512"/>. Otherwise the 256-bit formula on each half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512<T> Sigmoid(Lanes512<T> x)
    {
        if (typeof(T) == typeof(float) && Avx512F.IsSupported) return new(SelectiveScanKernel<float>.Sigmoid512(x.V.As<T, float>()).As<float, T>());
        return new(Vector512.Create(SelectiveScanKernel<T>.Sigmoid(x.V.GetLower()), SelectiveScanKernel<T>.Sigmoid(x.V.GetUpper())));
    }

    /// <summary>Float: eight sums at a time, each half of the eight vectors reduced by <see cref="Lanes256{T}.TransposedSums"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddLaneSums(Lanes512<T>* terms, int stride, T* target, int n)
    {
        int j = 0;
        if (typeof(T) == typeof(float) && Avx.IsSupported)
        {
            for (; j + 8 <= n; j += 8)
            {
                Vector512<float>* v = (Vector512<float>*)(terms + j * stride);
                float* row = (float*)(target + j);
                (Vector256.Load(row) + Lanes256<float>.TransposedSums(Half(v[0]), Half(v[stride]), Half(v[2 * stride]), Half(v[3 * stride]),
                    Half(v[4 * stride]), Half(v[5 * stride]), Half(v[6 * stride]), Half(v[7 * stride]))).Store(row);
            }
        }
        for (; j < n; j++) target[j] += Vector512.Sum(terms[j * stride].V);
    }

    /// <summary>The two 256-bit halves added: eight lanes with the same sum as the sixteen.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Half(Vector512<float> v) => v.GetLower() + v.GetUpper();

    static Vector512<T> LoadPartial(T* source, int lanes)
    {
        Span<T> buffer = stackalloc T[Vector512<T>.Count];
        buffer.Clear();
        new Span<T>(source, lanes).CopyTo(buffer);
        return Vector512.Create<T>(buffer);
    }

    static void StorePartial(Vector512<T> value, T* target, int lanes)
    {
        Span<T> buffer = stackalloc T[Vector512<T>.Count];
        value.CopyTo(buffer);
        buffer[..lanes].CopyTo(new Span<T>(target, lanes));
    }

    static Vector256<ushort> LoadBFloat16Partial(ushort* source, int lanes)
    {
        Span<ushort> buffer = stackalloc ushort[16];
        buffer.Clear();
        new Span<ushort>(source, lanes).CopyTo(buffer);
        return Vector256.Create<ushort>(buffer);
    }

    static void StoreBFloat16Partial(Vector256<ushort> bits, ushort* target, int lanes)
    {
        Span<ushort> buffer = stackalloc ushort[16];
        bits.CopyTo(buffer);
        buffer[..lanes].CopyTo(new Span<ushort>(target, lanes));
    }
}
