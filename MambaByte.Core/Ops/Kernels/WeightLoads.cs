using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>Weights stored in the activation type itself (fp32 for float, fp64 for double).</summary>
internal readonly unsafe struct PlainLoad<T> : IWeightLoad<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nint Row(in GemvMatrix w, int row) => w.Data + (nint)((long)row * w.Cols * sizeof(T));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Load(nint row, int column) => Vector256.Load((T*)row + column);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T LoadScalar(nint row, int column) => ((T*)row)[column];
}

/// <summary>
/// bfloat16 weights (the upper 16 bits of a float32) in the <see cref="WeightTiles"/> layout, widened to float in
/// the product: zero-extend to 32 bits and shift left by 16, which is exact.
/// </summary>
internal readonly unsafe struct BFloat16Load : IWeightLoad<float>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nint Row(in GemvMatrix w, int row) => w.Data + (nint)(WeightTiles.RowOffset(row, w.Cols) * sizeof(ushort));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(nint row, int column)
    {
        ushort* p = (ushort*)row + WeightTiles.ColumnOffset(column);
        Vector256<int> bits = Avx2.IsSupported
            ? Avx2.ConvertToVector256Int32(p)
            : Vector256.WidenLower(Vector256.Create(Vector128.Load(p), Vector128<ushort>.Zero)).AsInt32();
        return Vector256.ShiftLeft(bits, 16).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadScalar(nint row, int column) => BitConverter.Int32BitsToSingle(((ushort*)row)[WeightTiles.ColumnOffset(column)] << 16);
}

/// <summary>
/// int8 weights (one float scale per row, applied by the kernel to the finished dot product) in the
/// <see cref="WeightTiles"/> layout, widened to float in the product: sign-extend to 32 bits (one <c>vpmovsxbd</c>
/// where AVX2 is there) and convert, both exact.
/// </summary>
internal readonly unsafe struct Int8Load : IWeightLoad<float>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nint Row(in GemvMatrix w, int row) => w.Data + (nint)WeightTiles.RowOffset(row, w.Cols);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(nint row, int column)
    {
        sbyte* p = (sbyte*)row + WeightTiles.ColumnOffset(column);
        if (Avx2.IsSupported) return Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p));
        Vector128<short> shorts = Vector128.WidenLower(Vector128.CreateScalar(*(long*)p).AsSByte());
        return Vector256.ConvertToSingle(Vector256.Create(Vector128.WidenLower(shorts), Vector128.WidenUpper(shorts)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadScalar(nint row, int column) => ((sbyte*)row)[WeightTiles.ColumnOffset(column)];
}
