using System.Text;
using MambaByte.Core.Files;

namespace MambaByte.Core.Export;

/// <summary>
/// Writes GGUF version 3 (the file format of ggml and llama.cpp, <c>docs/gguf.md</c> in ggml), all little-endian:
/// <code>
/// "GGUF"  uint32 version = 3  uint64 tensor_count  uint64 metadata_kv_count
/// metadata_kv_count × { string key, uint32 value_type, value }
/// tensor_count × { string name, uint32 n_dims, uint64 ne[n_dims] (innermost first), uint32 ggml_type, uint64 offset }
/// zero padding to the alignment, then each tensor's bytes, each padded with zeros to the alignment
/// </code>
/// A string is a uint64 byte count then UTF-8 bytes (no terminator); an array is uint32 element type, uint64 count,
/// then the elements. Offsets are relative to the start of the data section and are multiples of the alignment
/// (<c>general.alignment</c> when present, else 32), and tensors follow each other in the order of their infos, as
/// llama.cpp's reader requires.
/// </summary>
public static class GgufWriter
{
    public const uint Magic = 0x46554747;            // "GGUF" read as a little-endian uint32
    public const uint Version = 3;
    public const uint DefaultAlignment = 32;
    public const string AlignmentKey = "general.alignment";

    /// <summary>ggml's GGML_MAX_NAME is 64 bytes including the terminator.</summary>
    public const int MaxTensorNameBytes = 63;

    /// <summary>
    /// Writes the file to a temporary name beside <paramref name="path"/>, flushes it to disk and renames it over
    /// <paramref name="path"/>: a failure leaves no partial file. Throws <see cref="ArgumentException"/> for
    /// malformed input and <see cref="IOException"/> naming the path when the file cannot be written.
    /// </summary>
    public static void Write(string path, IReadOnlyList<KeyValuePair<string, GgufValue>> metadata, IReadOnlyList<GgufTensor> tensors)
    {
        uint alignment = Alignment(metadata);
        Validate(metadata, tensors);

        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new IOException($"{path}: is a directory; give a file name for the GGUF file");
        string? directory = Path.GetDirectoryName(full);
        if (directory is not null && File.Exists(directory)) throw new IOException($"{path}: {directory} is a file, not a directory");
        if (directory is null || !Directory.Exists(directory)) throw new IOException($"{path}: directory {directory} does not exist");
        try
        {
            AtomicFile.Write(full, stream => WriteTo(stream, metadata, tensors, alignment));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{path}: cannot write the GGUF file ({e.Message})", e);
        }
    }

    /// <summary>Writes the whole file to <paramref name="stream"/> (which must start at position 0 of the file).</summary>
    public static void WriteTo(Stream stream, IReadOnlyList<KeyValuePair<string, GgufValue>> metadata, IReadOnlyList<GgufTensor> tensors, uint alignment)
    {
        var header = new MemoryStream();
        var w = new BinaryWriter(header, Encoding.UTF8, leaveOpen: true);   // BinaryWriter is little-endian on every platform
        w.Write(Magic);
        w.Write(Version);
        w.Write((ulong)tensors.Count);
        w.Write((ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            WriteString(w, key);
            w.Write((uint)value.Type);
            WriteValue(w, value);
        }
        long offset = 0;
        foreach (GgufTensor tensor in tensors)
        {
            WriteString(w, tensor.Name);
            w.Write((uint)tensor.Dimensions.Length);
            foreach (long ne in tensor.Dimensions) w.Write((ulong)ne);
            w.Write((uint)tensor.Type);
            w.Write((ulong)offset);
            offset += Pad(tensor.Data.Length, alignment);
        }
        w.Flush();
        stream.Write(header.GetBuffer(), 0, (int)header.Length);
        WriteZeros(stream, Pad(header.Length, alignment) - header.Length);
        foreach (GgufTensor tensor in tensors)
        {
            stream.Write(tensor.Data);
            WriteZeros(stream, Pad(tensor.Data.Length, alignment) - tensor.Data.Length);
        }
    }

    /// <summary>x rounded up to a multiple of <paramref name="alignment"/>.</summary>
    public static long Pad(long x, uint alignment) => (x + alignment - 1) / alignment * alignment;

    static uint Alignment(IReadOnlyList<KeyValuePair<string, GgufValue>> metadata)
    {
        foreach (var (key, value) in metadata)
        {
            if (key != AlignmentKey) continue;
            if (value.Type != GgufValueType.UInt32 || !IsPowerOfTwo((uint)value.Value))
                throw new ArgumentException($"GGUF: {AlignmentKey} must be a uint32 power of two, got {value.Type} {value}");
            return (uint)value.Value;
        }
        return DefaultAlignment;
    }

    internal static bool IsPowerOfTwo(uint a) => a != 0 && (a & (a - 1)) == 0;

    static void Validate(IReadOnlyList<KeyValuePair<string, GgufValue>> metadata, IReadOnlyList<GgufTensor> tensors)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, _) in metadata)
            if (!keys.Add(key)) throw new ArgumentException($"GGUF: duplicate metadata key '{key}'");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (GgufTensor t in tensors)
        {
            if (!names.Add(t.Name)) throw new ArgumentException($"GGUF: duplicate tensor name '{t.Name}'");
            if (Encoding.UTF8.GetByteCount(t.Name) > MaxTensorNameBytes) throw new ArgumentException($"GGUF: tensor name '{t.Name}' is longer than {MaxTensorNameBytes} bytes");
            if (t.Dimensions.Length is < 1 or > 4 || t.Dimensions.Any(d => d < 1))
                throw new ArgumentException($"GGUF: tensor '{t.Name}' has dimensions [{string.Join(", ", t.Dimensions)}]; 1 to 4 positive sizes are allowed");
            if (t.Dimensions[0] % GgmlQuantization.BlockSize(t.Type) != 0)
                throw new ArgumentException($"GGUF: tensor '{t.Name}' of type {t.Type} needs ne[0] = {t.Dimensions[0]} to be a multiple of {GgmlQuantization.BlockSize(t.Type)}");
            if (t.Data.Length != GgmlQuantization.ByteCount(t.Type, t.ElementCount))
                throw new ArgumentException($"GGUF: tensor '{t.Name}' has {t.Data.Length} bytes; {t.Type} [{string.Join(", ", t.Dimensions)}] needs {GgmlQuantization.ByteCount(t.Type, t.ElementCount)}");
        }
    }

    static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    static void WriteValue(BinaryWriter w, GgufValue value)
    {
        if (value.Type == GgufValueType.Array)
        {
            w.Write((uint)value.ElementType);
            w.Write((ulong)value.Elements.Count);
            foreach (object element in value.Elements) WriteScalar(w, value.ElementType, element);
        }
        else
        {
            WriteScalar(w, value.Type, value.Value);
        }
    }

    static void WriteScalar(BinaryWriter w, GgufValueType type, object value)
    {
        try
        {
            switch (type)
            {
                case GgufValueType.UInt8: w.Write((byte)value); break;
                case GgufValueType.Int8: w.Write((sbyte)value); break;
                case GgufValueType.UInt16: w.Write((ushort)value); break;
                case GgufValueType.Int16: w.Write((short)value); break;
                case GgufValueType.UInt32: w.Write((uint)value); break;
                case GgufValueType.Int32: w.Write((int)value); break;
                case GgufValueType.Float32: w.Write((float)value); break;
                case GgufValueType.Bool: w.Write((bool)value ? (byte)1 : (byte)0); break;
                case GgufValueType.String: WriteString(w, (string)value); break;
                case GgufValueType.UInt64: w.Write((ulong)value); break;
                case GgufValueType.Int64: w.Write((long)value); break;
                case GgufValueType.Float64: w.Write((double)value); break;
                default: throw new ArgumentException($"GGUF: value type {type} cannot be written as a scalar");
            }
        }
        catch (InvalidCastException)
        {
            throw new ArgumentException($"GGUF: a {value.GetType().Name} value cannot be written as {type}");
        }
    }

    static void WriteZeros(Stream stream, long count)
    {
        Span<byte> zeros = stackalloc byte[64];
        zeros.Clear();
        while (count > 0)
        {
            int n = (int)Math.Min(count, zeros.Length);
            stream.Write(zeros[..n]);
            count -= n;
        }
    }
}
