namespace MambaByte.Core.Export;

/// <summary>
/// A GGUF file as read by <see cref="GgufReader.Read"/>: version, metadata in file order, tensor infos in file
/// order, and where the data section starts. Tensor bytes are read on demand.
/// </summary>
public sealed record GgufFile(string Path, uint Version, uint Alignment, IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata,
    IReadOnlyList<GgufTensorInfo> Tensors, long DataOffset)
{
    /// <summary>The metadata value of <paramref name="key"/>; fails naming the file when it is absent.</summary>
    public GgufValue this[string key] => TryGet(key) ?? throw new InvalidDataException($"{Path}: no metadata key '{key}'");

    public GgufValue? TryGet(string key) => Metadata.FirstOrDefault(p => p.Key == key).Value;

    public GgufTensorInfo Tensor(string name) =>
        Tensors.FirstOrDefault(t => t.Name == name) ?? throw new InvalidDataException($"{Path}: no tensor '{name}'");

    /// <summary>The tensor's stored bytes (without padding).</summary>
    public byte[] ReadBytes(GgufTensorInfo tensor)
    {
        using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read);
        stream.Position = DataOffset + tensor.Offset;
        var data = new byte[tensor.ByteCount];
        stream.ReadExactly(data);
        return data;
    }

    /// <summary>The tensor's values decoded to float32, in storage order (ne[0] fastest, i.e. torch's row-major order).</summary>
    public float[] ReadFloats(string name)
    {
        GgufTensorInfo tensor = Tensor(name);
        return GgmlQuantization.Decode(tensor.Type, ReadBytes(tensor), tensor.ElementCount);
    }
}
