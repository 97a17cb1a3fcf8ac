using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// The vector math the CPU kernels share (<see cref="MixerScanKernel{T, TV}"/>, <see cref="MixerKernel{T}"/>,
/// <see cref="StepKernel{T}"/>): softplus and sigmoid as torch computes them, exp and log, and the scan's decay
/// exp(Δ·A) through a base-2 exponential, for float and double.
/// </summary>
internal static class VectorMath<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>log(1 + eˣ) as torch computes it (threshold 20), with an accurate log1p.</summary>
    internal static T Softplus(T x)
    {
        if (x > T.CreateTruncating(20)) return x;
        T e = T.Exp(x), onePlus = T.One + e;
        return onePlus == T.One ? e : T.Log(onePlus) * e / (onePlus - T.One);
    }

    /// <summary>The vector form of <see cref="Softplus(T)"/>: the same formula lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> Softplus(Vector256<T> x)
    {
        Vector256<T> e = Exp(Vector256.Min(x, Vector256.Create(T.CreateTruncating(20))));
        Vector256<T> onePlus = Vector256<T>.One + e, below = onePlus - Vector256<T>.One;
        Vector256<T> log1p = Vector256.ConditionalSelect(Vector256.Equals(below, Vector256<T>.Zero), e, Log(onePlus) * e / below);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(T.CreateTruncating(20))), x, log1p);
    }

    internal static T Sigmoid(T x) => T.One / (T.One + T.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> Sigmoid(Vector256<T> x) => Vector256<T>.One / (Vector256<T>.One + Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<T> Log(Vector256<T> x)
    {
        if (typeof(T) == typeof(float)) return LogFloat(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.Log(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException($"selective scan kernel: {typeof(T).Name} is not supported");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> Exp(Vector256<T> x)
    {
        if (typeof(T) == typeof(float)) return ExpFloat(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.Exp(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException($"selective scan kernel: {typeof(T).Name} is not supported");
    }

    /// <summary>
    /// What <see cref="Decay"/> expects a decay rate A to be multiplied by: log₂e for float (the float decay is a base-2
    /// exponential, which saves the range reduction's multiplies), 1 for double (exact <see cref="Vector256.Exp(Vector256{double})"/>).
    /// </summary>
    internal static T RateScale => typeof(T) == typeof(float) ? T.CreateTruncating(1.4426950408889634) : T.One;

    /// <summary>exp(Δ·A) from Δ and the scaled rate A·<see cref="RateScale"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> Decay(Vector256<T> dt, Vector256<T> scaledRate)
    {
        if (typeof(T) == typeof(float)) return Exp2Float((dt * scaledRate).As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.Exp((dt * scaledRate).As<T, double>()).As<double, T>();
        throw new NotSupportedException($"selective scan kernel: {typeof(T).Name} is not supported");
    }

    /// <summary>
    /// 2ʸ for float lanes: y = k + f with k = round(y), |f| ≤ ½, 2ᶠ by a degree-5 minimax polynomial (relative error
    /// 7.5e-8 before rounding, so about 1 ulp in all), then k added to the exponent bits. Six multiply-adds against
    /// <see cref="ExpFloat"/>'s ten. y is clamped to [−125, 127]: below, the result is about 2⁻¹²⁵ ≈ 2.4e-38 instead of
    /// a subnormal or 0 (an absolute error under 3e-38); the decays it serves are in (0, 1].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Exp2Float(Vector256<float> y)
    {
        y = Vector256.Min(Vector256.Max(y, Vector256.Create(-125f)), Vector256.Create(127f));
        Vector256<float> shifted = y + Vector256.Create(RoundingShift);
        Vector256<float> f = y - (shifted - Vector256.Create(RoundingShift));                  // y − round(y)
        Vector256<float> poly = Vector256.Create(Exp2C5);
        poly = Vector256.FusedMultiplyAdd(poly, f, Vector256.Create(Exp2C4));
        poly = Vector256.FusedMultiplyAdd(poly, f, Vector256.Create(Exp2C3));
        poly = Vector256.FusedMultiplyAdd(poly, f, Vector256.Create(Exp2C2));
        poly = Vector256.FusedMultiplyAdd(poly, f, Vector256.Create(Exp2C1));
        poly = Vector256.FusedMultiplyAdd(poly, f, Vector256.Create(Exp2C0));
        return (poly.AsInt32() + Vector256.ShiftLeft(shifted.AsInt32(), 23)).AsSingle();
    }

    /// <summary>
    /// 1.5·2²³. For |y| &lt; 2²², y + this rounds y to the nearest integer k (the float's unit in the last place is 1
    /// there), so subtracting it again gives round(y), and the sum's low mantissa bits hold k + 2²²: shifted left by 23
    /// they are k·2²³ modulo 2³², the exponent-field increment of 2ᵏ. This replaces a round and a float-to-int
    /// conversion (which .NET makes saturating: four instructions at 512 bits) with one add.
    /// </summary>
    internal const float RoundingShift = 12582912f;

    // 2ᶠ ≈ Σ cᵢ·fⁱ on [−½, ½]: minimax for relative error by the Remez exchange (max 7.5e-8).
    internal const float Exp2C0 = 1.0000000716546822f, Exp2C1 = 0.693146967064733f, Exp2C2 = 0.2402211972384865f;
    internal const float Exp2C3 = 0.05550713273543075f, Exp2C4 = 0.009675541334209831f, Exp2C5 = 0.0013276471979286704f;

    /// <summary>
    /// ln x for positive, finite, normal float lanes in single precision (the softplus argument 1 + eˣ ≥ 1): x = m·2^k with
    /// m in [√½, √2), ln m = 2·atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172, by its odd series to s⁹ (truncation below
    /// 4e-9 relative), plus k·ln2. A few ulp, like <see cref="ExpFloat"/>; replaces .NET's Vector256.Log, which is slow.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> LogFloat(Vector256<float> x)
    {
        Vector256<int> bits = x.AsInt32();
        // Exponent relative to a mantissa in [√½, √2): shift by the bits of √½ (0x3F3504F3) before extracting.
        Vector256<int> shifted = bits - Vector256.Create(0x3F3504F3);
        Vector256<int> k = Vector256.ShiftRightArithmetic(shifted, 23);
        Vector256<float> m = (bits - Vector256.ShiftLeft(k, 23)).AsSingle();
        Vector256<float> s = (m - Vector256<float>.One) / (m + Vector256<float>.One), s2 = s * s;
        Vector256<float> series = Vector256.Create(1f / 9);
        series = Vector256.FusedMultiplyAdd(series, s2, Vector256.Create(1f / 7));
        series = Vector256.FusedMultiplyAdd(series, s2, Vector256.Create(1f / 5));
        series = Vector256.FusedMultiplyAdd(series, s2, Vector256.Create(1f / 3));
        series = Vector256.FusedMultiplyAdd(series, s2, Vector256<float>.One);
        Vector256<float> kf = Vector256.ConvertToSingle(k);
        return Vector256.FusedMultiplyAdd(kf, Vector256.Create(0.693147180559945309f), Vector256.Create(2f) * s * series);
    }

    /// <summary>
    /// eˣ for float lanes in single precision, about 3× faster than <see cref="Vector256.Exp(Vector256{float})"/>
    /// (which computes through double): x = k·ln2 + r with |r| ≤ ln2/2 (Cody–Waite split of ln2), e^r by its degree-6
    /// Taylor polynomial (truncation &lt; 1.2e-7 relative), times 2^k added to the exponent bits. Relative error a few
    /// ulp. Inputs are clamped to [−87, 88]: below, the result is e^−87 ≈ 1.6e-38 instead of a subnormal or 0
    /// (an absolute error under 1.7e-38); above, 1.65e38 instead of ∞.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> ExpFloat(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(-87f)), Vector256.Create(88f));
        Vector256<float> shifted = Vector256.FusedMultiplyAdd(x, Vector256.Create(1.44269504088896341f), Vector256.Create(RoundingShift));
        Vector256<float> k = shifted - Vector256.Create(RoundingShift);                        // round(x·log₂e), see RoundingShift
        Vector256<float> r = Vector256.FusedMultiplyAdd(k, Vector256.Create(-0.693359375f), x);
        r = Vector256.FusedMultiplyAdd(k, Vector256.Create(2.12194440e-4f), r);
        Vector256<float> poly = Vector256.Create(1f / 720);
        poly = Vector256.FusedMultiplyAdd(poly, r, Vector256.Create(1f / 120));
        poly = Vector256.FusedMultiplyAdd(poly, r, Vector256.Create(1f / 24));
        poly = Vector256.FusedMultiplyAdd(poly, r, Vector256.Create(1f / 6));
        poly = Vector256.FusedMultiplyAdd(poly, r, Vector256.Create(0.5f));
        poly = Vector256.FusedMultiplyAdd(poly, r, Vector256<float>.One);
        poly = Vector256.FusedMultiplyAdd(poly, r, Vector256<float>.One);
        // 2^k as a float, (k + 127)·2²³ in its bits (a product, not an exponent add: near −87 the result is subnormal).
        return poly * (Vector256.ShiftLeft(shifted.AsInt32(), 23) + Vector256.Create(127 << 23)).AsSingle();
    }
}
