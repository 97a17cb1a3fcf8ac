namespace MambaByte.Core.Export;

/// <summary>
/// A tensor to write: its name, its dimensions in <b>ggml order</b> (ne[0], the innermost and contiguous one,
/// first: a torch (rows, cols) matrix is {cols, rows}), its type and its encoded bytes.
/// </summary>
public sealed record GgufTensor(string Name, long[] Dimensions, GgmlType Type, byte[] Data)
{
    public long ElementCount => Dimensions.Aggregate(1L, (a, b) => a * b);
}
