using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MambaByte.Core.Ops.Kernels;

/// <summary><see cref="ISimdLanes{TSelf, T}"/> on <see cref="Vector256{T}"/>: 8 float or 4 double lanes.</summary>
internal readonly unsafe struct Lanes256<T> : ISimdLanes<Lanes256<T>, T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public readonly Vector256<T> V;

    public Lanes256(Vector256<T> v) => V = v;

    public static int Count => Vector256<T>.Count;
    public static Lanes256<T> Zero => new(Vector256<T>.Zero);
    public static Lanes256<T> One => new(Vector256<T>.One);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256<T> Broadcast(T value) => new(Vector256.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256<T> Load(T* source, int lanes) => new(lanes == Count ? Vector256.Load(source) : LoadPartial(source, lanes));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Lanes256<T> value, T* target, int lanes)
    {
        if (lanes == Count) value.V.Store(target);
        else StorePartial(value.V, target, lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256<T> LoadBFloat16(ushort* source, int lanes)
    {
        if (typeof(T) != typeof(float)) throw new NotSupportedException("bug: bf16 values are read into float lanes only");
        Vector128<ushort> bits = lanes == 8 ? Vector128.Load(source) : LoadBFloat16Partial(source, lanes);
        return new(Vector256.ShiftLeft(Vector256.WidenLower(bits.ToVector256Unsafe()), 16).AsSingle().As<float, T>());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBFloat16(Lanes256<T> value, ushort* target, int lanes)
    {
        if (typeof(T) != typeof(float)) throw new NotSupportedException("bug: bf16 values are written from float lanes only");
        Vector128<ushort> bits = Vector256.Narrow(BFloat16Rows.Round(value.V.As<T, float>()), Vector256<uint>.Zero).GetLower();
        if (lanes == 8) bits.Store(target);
        else StoreBFloat16Partial(bits, target, lanes);
    }

    public static Lanes256<T> FromSpan(ReadOnlySpan<T> values) => new(Vector256.Create(values));
    public static T Element(Lanes256<T> value, int lane) => value.V.GetElement(lane);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256<T> operator +(Lanes256<T> a, Lanes256<T> b) => new(a.V + b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256<T> operator -(Lanes256<T> a, Lanes256<T> b) => new(a.V - b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256<T> operator *(Lanes256<T> a, Lanes256<T> b) => new(a.V * b.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256<T> Fma(Lanes256<T> a, Lanes256<T> b, Lanes256<T> c) => new(VectorOps.Fma(a.V, b.V, c.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256<T> Decay(Lanes256<T> dt, Lanes256<T> scaledRate) => new(SelectiveScanKernel<T>.Decay(dt.V, scaledRate.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256<T> Softplus(Lanes256<T> x) => new(SelectiveScanKernel<T>.Softplus(x.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256<T> Sigmoid(Lanes256<T> x) => new(SelectiveScanKernel<T>.Sigmoid(x.V));

    /// <summary>Eight float sums at a time through a transposing reduction where AVX allows, else lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddLaneSums(Lanes256<T>* terms, int stride, T* target, int n)
    {
        int j = 0;
        if (typeof(T) == typeof(float) && Avx.IsSupported)
        {
            for (; j + 8 <= n; j += 8)
            {
                float* row = (float*)(target + j);
                Vector256<float>* v = (Vector256<float>*)(terms + j * stride);
                (Vector256.Load(row) + TransposedSums(v[0], v[stride], v[2 * stride], v[3 * stride], v[4 * stride], v[5 * stride], v[6 * stride], v[7 * stride])).Store(row);
            }
        }
        for (; j < n; j++) target[j] += Vector256.Sum(terms[j * stride].V);
    }

    /// <summary>[Σv0, …, Σv7] for eight float vectors, by horizontal adds and one cross-half add.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> TransposedSums(
        Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, Vector256<float> v3,
        Vector256<float> v4, Vector256<float> v5, Vector256<float> v6, Vector256<float> v7)
    {
        Vector256<float> pairs01 = Avx.HorizontalAdd(v0, v1), pairs23 = Avx.HorizontalAdd(v2, v3);
        Vector256<float> pairs45 = Avx.HorizontalAdd(v4, v5), pairs67 = Avx.HorizontalAdd(v6, v7);
        Vector256<float> quads0123 = Avx.HorizontalAdd(pairs01, pairs23), quads4567 = Avx.HorizontalAdd(pairs45, pairs67);
        // Each 128-bit half of quads holds four partial sums; add the halves.
        return Avx.Permute2x128(quads0123, quads4567, 0x20) + Avx.Permute2x128(quads0123, quads4567, 0x31);
    }

    static Vector256<T> LoadPartial(T* source, int lanes)
    {
        Span<T> buffer = stackalloc T[Vector256<T>.Count];
        buffer.Clear();
        new Span<T>(source, lanes).CopyTo(buffer);
        return Vector256.Create<T>(buffer);
    }

    static void StorePartial(Vector256<T> value, T* target, int lanes)
    {
        Span<T> buffer = stackalloc T[Vector256<T>.Count];
        value.CopyTo(buffer);
        buffer[..lanes].CopyTo(new Span<T>(target, lanes));
    }

    static Vector128<ushort> LoadBFloat16Partial(ushort* source, int lanes)
    {
        Span<ushort> buffer = stackalloc ushort[8];
        buffer.Clear();
        new Span<ushort>(source, lanes).CopyTo(buffer);
        return Vector128.Create<ushort>(buffer);
    }

    static void StoreBFloat16Partial(Vector128<ushort> bits, ushort* target, int lanes)
    {
        Span<ushort> buffer = stackalloc ushort[8];
        bits.CopyTo(buffer);
        buffer[..lanes].CopyTo(new Span<ushort>(target, lanes));
    }
}
