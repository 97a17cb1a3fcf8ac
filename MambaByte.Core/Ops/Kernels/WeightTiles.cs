using System.Runtime.CompilerServices;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// The tiled layout of the compact (bf16, int8) weight copies that <see cref="GemvKernel{T}"/> reads: rows in blocks
/// of <see cref="RowBlock"/>, each block stored as column chunks of <see cref="ColumnChunk"/> with the block's rows
/// side by side inside a chunk. Element (r, c) of a (rows, cols) matrix sits at
/// <c>(r / 8) · 8 · paddedCols + (c / 32) · 256 + (r mod 8) · 32 + c mod 32</c>, rows padded to a multiple of 8 and
/// columns to a multiple of 32 with zeros.
/// <para>
/// Why: at batch 1 the kernel reads eight rows at once (eight FMA chains). Row-major, that is eight streams a row's
/// length apart, 768 bytes for int8 d_model 768; tiled, it is one stream that advances 256 bytes per 32 columns.
/// Measured on the 2-core AMD EPYC development machine, the in_proj and out_proj products of d_model 768 × 24
/// layers with int8 weights (85 MB), fastest of 15 alternated rounds: 12.9 ms row-major against 3.4 ms tiled on one
/// thread; with fp32 weights (where the rows are four times as long) tiling gained about 10%, so fp32 weights stay
/// the model's own row-major tensor. The kernel's arithmetic and its summation order do not depend on the layout.
/// </para>
/// </summary>
internal static class WeightTiles
{
    public const int RowBlock = 8, ColumnChunk = 32;

    public static int PaddedRows(int rows) => (rows + RowBlock - 1) / RowBlock * RowBlock;

    public static int PaddedCols(int cols) => (cols + ColumnChunk - 1) / ColumnChunk * ColumnChunk;

    /// <summary>Elements of the tiled copy of a (rows, cols) matrix, padding included.</summary>
    public static long Length(int rows, int cols) => (long)PaddedRows(rows) * PaddedCols(cols);

    /// <summary>Offset, in elements, of row <paramref name="row"/>'s first element (its column 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long RowOffset(int row, int cols) => (long)(row / RowBlock) * RowBlock * PaddedCols(cols) + (row % RowBlock) * ColumnChunk;

    /// <summary>Offset, in elements, of column <paramref name="column"/> from its row's first element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ColumnOffset(int column) => (column & ~(ColumnChunk - 1)) * RowBlock + (column & (ColumnChunk - 1));

    /// <summary>A pinned tiled copy of the row-major (rows, cols) <paramref name="rowMajor"/>, zero-padded.</summary>
    public static TElement[] Pack<TElement>(ReadOnlySpan<TElement> rowMajor, int rows, int cols) where TElement : unmanaged
    {
        if (rowMajor.Length != (long)rows * cols) throw new ArgumentException($"expected {rows} x {cols} elements, got {rowMajor.Length}");
        var tiled = GC.AllocateArray<TElement>(checked((int)Length(rows, cols)), pinned: true);
        for (int r = 0; r < rows; r++)
        {
            long first = RowOffset(r, cols);
            ReadOnlySpan<TElement> source = rowMajor.Slice(r * cols, cols);
            for (int c = 0; c < cols; c += ColumnChunk)
            {
                int count = Math.Min(ColumnChunk, cols - c);
                source.Slice(c, count).CopyTo(tiled.AsSpan((int)(first + ColumnOffset(c)), count));
            }
        }
        return tiled;
    }
}
