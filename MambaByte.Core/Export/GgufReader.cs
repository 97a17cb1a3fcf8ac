using System.Text;

namespace MambaByte.Core.Export;

/// <summary>
/// Reads the header, metadata and tensor infos of a GGUF file (versions 2 and 3; the layout is in
/// <see cref="GgufWriter"/>) and checks what llama.cpp's reader checks: magic, version, value types, no duplicate
/// keys or tensor names, at most 4 dimensions, ne[0] a multiple of the type's block, the alignment a power of two,
/// tensors back to back in info order at aligned offsets, and the data inside the file. Every failure is an
/// <see cref="InvalidDataException"/> naming the file.
/// </summary>
public static class GgufReader
{
    const long MaxStringBytes = 1L << 30;

    public static GgufFile Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such GGUF file", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var r = new Reader(stream, path);
        try
        {
            return Parse(path, stream, r);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"{path}: ends early at byte {stream.Length} (truncated GGUF file?)");
        }
    }

    /// <summary>True when the file starts with the GGUF magic.</summary>
    public static bool HasMagic(string path)
    {
        if (!File.Exists(path)) return false;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        Span<byte> magic = stackalloc byte[4];
        return stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && magic.SequenceEqual("GGUF"u8);
    }

    static GgufFile Parse(string path, FileStream stream, Reader r)
    {
        uint magic = r.UInt32();
        if (magic != GgufWriter.Magic) throw new InvalidDataException($"{path}: not a GGUF file (it starts with 0x{magic:x8}, not \"GGUF\")");
        uint version = r.UInt32();
        if (version is not (2 or 3)) throw new InvalidDataException($"{path}: GGUF version {version}; this reader reads versions 2 and 3");
        ulong tensorCount = r.UInt64(), kvCount = r.UInt64();
        if (tensorCount > (ulong)stream.Length || kvCount > (ulong)stream.Length)
            throw new InvalidDataException($"{path}: header claims {tensorCount} tensors and {kvCount} metadata entries, impossible for a {stream.Length}-byte file");

        var metadata = new List<KeyValuePair<string, GgufValue>>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < kvCount; i++)
        {
            string key = r.String();
            if (!keys.Add(key)) throw new InvalidDataException($"{path}: duplicate metadata key '{key}'");
            var type = (GgufValueType)r.UInt32();
            metadata.Add(new(key, ReadValue(r, type, key)));
        }

        uint alignment = GgufWriter.DefaultAlignment;
        if (metadata.FirstOrDefault(p => p.Key == GgufWriter.AlignmentKey).Value is GgufValue a)
        {
            if (a.Type != GgufValueType.UInt32 || !GgufWriter.IsPowerOfTwo((uint)a.Value))
                throw new InvalidDataException($"{path}: {GgufWriter.AlignmentKey} must be a uint32 power of two, got {a.Type} {a}");
            alignment = (uint)a.Value;
        }

        var infos = new List<(string Name, long[] Dims, GgmlType Type, long Offset)>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < tensorCount; i++)
        {
            string name = r.String();
            if (!names.Add(name)) throw new InvalidDataException($"{path}: duplicate tensor name '{name}'");
            uint nDims = r.UInt32();
            if (nDims is < 1 or > 4) throw new InvalidDataException($"{path}: tensor '{name}' has {nDims} dimensions (1 to 4 allowed)");
            var dims = new long[nDims];
            for (int d = 0; d < nDims; d++)
            {
                ulong ne = r.UInt64();
                if (ne == 0 || ne > (ulong)stream.Length * 8) throw new InvalidDataException($"{path}: tensor '{name}' dimension {d} is {ne}");
                dims[d] = (long)ne;
            }
            uint typeNumber = r.UInt32();
            if (!Enum.IsDefined((GgmlType)typeNumber))
                throw new InvalidDataException($"{path}: tensor '{name}' has ggml type {typeNumber}; this reader decodes F32 (0), F16 (1) and Q8_0 (8)");
            var type = (GgmlType)typeNumber;
            if (dims[0] % GgmlQuantization.BlockSize(type) != 0)
                throw new InvalidDataException($"{path}: tensor '{name}' of type {type} has ne[0] = {dims[0]}, not a multiple of {GgmlQuantization.BlockSize(type)}");
            infos.Add((name, dims, type, (long)r.UInt64()));
        }

        long dataOffset = GgufWriter.Pad(stream.Position, alignment);
        var tensors = new List<GgufTensorInfo>();
        long expected = 0;
        foreach (var (name, dims, type, offset) in infos)
        {
            long bytes = GgmlQuantization.ByteCount(type, dims.Aggregate(1L, (x, y) => x * y));
            if (offset != expected)
                throw new InvalidDataException($"{path}: tensor '{name}' is at data offset {offset}; expected {expected} (tensors back to back, each padded to {alignment})");
            if (dataOffset + offset + bytes > stream.Length)
                throw new InvalidDataException($"{path}: tensor '{name}' ends at byte {dataOffset + offset + bytes} but the file has {stream.Length} (truncated?)");
            tensors.Add(new GgufTensorInfo(name, dims, type, offset, bytes));
            expected = offset + GgufWriter.Pad(bytes, alignment);
        }
        return new GgufFile(path, version, alignment, metadata, tensors, dataOffset);
    }

    static GgufValue ReadValue(Reader r, GgufValueType type, string key)
    {
        if (type != GgufValueType.Array) return new GgufValue(type, ReadScalar(r, type, key));
        var elementType = (GgufValueType)r.UInt32();
        if (elementType == GgufValueType.Array) throw new InvalidDataException($"{r.Path}: metadata '{key}' is an array of arrays (not supported)");
        ulong count = r.UInt64();
        if (count > (ulong)r.Remaining) throw new InvalidDataException($"{r.Path}: metadata '{key}' claims {count} elements, more than the file holds");
        var elements = new object[count];
        for (ulong i = 0; i < count; i++) elements[i] = ReadScalar(r, elementType, key);
        return new GgufValue(GgufValueType.Array, elements, elementType);
    }

    static object ReadScalar(Reader r, GgufValueType type, string key) => type switch
    {
        GgufValueType.UInt8 => r.Bytes(1)[0],
        GgufValueType.Int8 => (sbyte)r.Bytes(1)[0],
        GgufValueType.UInt16 => r.Binary.ReadUInt16(),
        GgufValueType.Int16 => r.Binary.ReadInt16(),
        GgufValueType.UInt32 => r.UInt32(),
        GgufValueType.Int32 => r.Binary.ReadInt32(),
        GgufValueType.Float32 => r.Binary.ReadSingle(),
        GgufValueType.Bool => r.Bytes(1)[0] switch
        {
            0 => false,
            1 => true,
            var b => throw new InvalidDataException($"{r.Path}: metadata '{key}' is a bool stored as {b}"),
        },
        GgufValueType.String => r.String(),
        GgufValueType.UInt64 => r.UInt64(),
        GgufValueType.Int64 => r.Binary.ReadInt64(),
        GgufValueType.Float64 => r.Binary.ReadDouble(),
        _ => throw new InvalidDataException($"{r.Path}: metadata '{key}' has value type {(uint)type}, not a GGUF type"),
    };

    sealed class Reader(FileStream stream, string path)
    {
        public BinaryReader Binary { get; } = new(stream, Encoding.UTF8, leaveOpen: true);   // little-endian everywhere

        public string Path => path;

        public long Remaining => stream.Length - stream.Position;

        public uint UInt32() => Binary.ReadUInt32();

        public ulong UInt64() => Binary.ReadUInt64();

        public byte[] Bytes(int n)
        {
            byte[] b = Binary.ReadBytes(n);
            if (b.Length != n) throw new EndOfStreamException();
            return b;
        }

        public string String()
        {
            ulong length = UInt64();
            if (length > MaxStringBytes || length > (ulong)Remaining)
                throw new InvalidDataException($"{path}: a string of {length} bytes at byte {stream.Position - 8} runs past the end of the file");
            byte[] bytes = Bytes((int)length);
            try
            {
                return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                throw new InvalidDataException($"{path}: a string at byte {stream.Position - (long)length} is not valid UTF-8");
            }
        }
    }
}
