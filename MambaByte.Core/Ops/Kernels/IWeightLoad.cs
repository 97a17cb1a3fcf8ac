using System.Numerics;
using System.Runtime.Intrinsics;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// How a GEMV reads one weight element type into activation lanes: <see cref="Load"/> returns elements
/// j … j + Vector256&lt;T&gt;.Count − 1 of row o widened to T, <see cref="LoadScalar"/> one element.
/// Implementations are structs so the JIT specialises the kernel for each and inlines the load.
/// </summary>
internal interface IWeightLoad<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    static abstract Vector256<T> Load(in GemvMatrix w, int row, int column);

    static abstract T LoadScalar(in GemvMatrix w, int row, int column);
}
