using System.Numerics;
using System.Runtime.CompilerServices;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// Lanes from and to a buffer that holds either the kernel's element type or bfloat16 bits (a projection's output or
/// input under mixed precision, read and written without a separate cast pass). Index in elements either way.
/// </summary>
internal static unsafe class Elements<T, TV>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
    where TV : unmanaged, ISimdLanes<TV, T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Load(nint address, long index, bool bf16, int lanes) =>
        bf16 ? TV.LoadBFloat16((ushort*)address + index, lanes) : TV.Load((T*)address + index, lanes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(TV value, nint address, long index, bool bf16, int lanes)
    {
        if (bf16) TV.StoreBFloat16(value, (ushort*)address + index, lanes);
        else TV.Store(value, (T*)address + index, lanes);
    }

    /// <summary>The address of element <paramref name="index"/> (for a prefetch).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void* At(nint address, long index, bool bf16) => bf16 ? (ushort*)address + index : (T*)address + index;
}
