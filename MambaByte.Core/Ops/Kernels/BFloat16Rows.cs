using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// bfloat16 ⇄ float32 over contiguous runs, as libtorch's <c>to(bfloat16)</c> / <c>to(float32)</c> do it (c10::BFloat16:
/// widening is exact, narrowing rounds to nearest even and turns a NaN into the quiet NaN 0x7FC0), 16 or 8 values per
/// vector with a scalar tail. bf16 values are their raw 16-bit patterns.
/// </summary>
internal static unsafe class BFloat16Rows
{
    /// <summary>target[i] = source[i] as a float, exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // SIMD loops: fully optimised from the first call, not tier-0
    public static void Widen(ushort* source, float* target, int count)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 32 <= count; i += 32)
            {
                var (lo, hi) = Vector512.Widen(Vector512.Load(source + i));
                Vector512.ShiftLeft(lo, 16).AsSingle().Store(target + i);
                Vector512.ShiftLeft(hi, 16).AsSingle().Store(target + i + 16);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 16 <= count; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Load(source + i));
                Vector256.ShiftLeft(lo, 16).AsSingle().Store(target + i);
                Vector256.ShiftLeft(hi, 16).AsSingle().Store(target + i + 8);
            }
        }
        for (; i < count; i++) target[i] = BitConverter.UInt32BitsToSingle((uint)source[i] << 16);
    }

    /// <summary>target[i] = source[i] rounded to bfloat16 (nearest even; NaN → 0x7FC0), as libtorch rounds it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Narrow(float* source, ushort* target, int count)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 32 <= count; i += 32)
                Vector512.Narrow(Round(Vector512.Load(source + i)), Round(Vector512.Load(source + i + 16))).Store(target + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 16 <= count; i += 16)
                Vector256.Narrow(Round(Vector256.Load(source + i)), Round(Vector256.Load(source + i + 8))).Store(target + i);
        }
        for (; i < count; i++) target[i] = Round(source[i]);
    }

    /// <summary>One value, as <see cref="Narrow"/> rounds it.</summary>
    public static ushort Round(float value)
    {
        if (float.IsNaN(value)) return QuietNaN;
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    const ushort QuietNaN = 0x7FC0;

    /// <summary>The bf16 bits of each lane in the low half of a 32-bit lane (the high half 0, for a truncating narrow).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<uint> Round(Vector512<float> v)
    {
        Vector512<uint> bits = v.AsUInt32();
        Vector512<uint> rounded = Vector512.ShiftRightLogical(bits + Vector512.Create(0x7FFFu) + (Vector512.ShiftRightLogical(bits, 16) & Vector512<uint>.One), 16);
        return Vector512.ConditionalSelect(Vector512.Equals(v, v).AsUInt32(), rounded, Vector512.Create((uint)QuietNaN));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<uint> Round(Vector256<float> v)
    {
        Vector256<uint> bits = v.AsUInt32();
        Vector256<uint> rounded = Vector256.ShiftRightLogical(bits + Vector256.Create(0x7FFFu) + (Vector256.ShiftRightLogical(bits, 16) & Vector256<uint>.One), 16);
        return Vector256.ConditionalSelect(Vector256.Equals(v, v).AsUInt32(), rounded, Vector256.Create((uint)QuietNaN));
    }
}
