namespace MambaByte.Core.Export;

/// <summary>A tensor's entry in a GGUF file: name, dimensions in ggml order (ne[0] first), type, and where its bytes are.</summary>
public sealed record GgufTensorInfo(string Name, long[] Dimensions, GgmlType Type, long Offset, long ByteCount)
{
    public long ElementCount => Dimensions.Aggregate(1L, (a, b) => a * b);

    /// <summary>The same shape in torch order (outermost first), as the tensor was before export.</summary>
    public long[] TorchShape => Dimensions.Reverse().ToArray();
}
