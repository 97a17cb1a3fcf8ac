namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// A weight matrix as <see cref="GemvKernel{T}"/> reads it: (Rows, Cols) at <see cref="Data"/> in the element type
/// and layout of its <see cref="IWeightLoad{T}"/> (row-major for <see cref="PlainLoad{T}"/>, <see cref="WeightTiles"/>
/// for the compact formats), an optional per-row float scale (int8 weights) and an optional
/// bias in the activation type. Addresses point into memory the owner keeps alive (0 = absent).
/// </summary>
internal readonly record struct GemvMatrix(nint Data, int Rows, int Cols, nint Scales = 0, nint Bias = 0);
