using System.Numerics;
using System.Runtime.Intrinsics;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// How a GEMV reads one weight element type into activation lanes: <see cref="Row"/> is the address of a row's
/// first element (computed once per row, outside the inner loop), <see cref="Load"/> returns elements
/// j … j + Vector256&lt;T&gt;.Count − 1 of that row widened to T (the kernel asks only for j a multiple of that count, so
/// a tiled layout whose column chunks are multiples of it serves each load from consecutive elements),
/// <see cref="LoadScalar"/> one element.
/// Implementations are structs so the JIT specialises the kernel for each and inlines the load.
/// </summary>
internal interface IWeightLoad<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    static abstract nint Row(in GemvMatrix w, int row);

    static abstract Vector256<T> Load(nint row, int column);

    static abstract T LoadScalar(nint row, int column);
}
