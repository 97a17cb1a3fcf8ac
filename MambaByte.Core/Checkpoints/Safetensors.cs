using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;
using MambaByte.Core.Files;

namespace MambaByte.Core.Checkpoints;

/// <summary>
/// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of JSON
/// (name → {dtype, shape, data_offsets: [begin, end)} relative to the data section, optional
/// <c>__metadata__</c> of string → string), then the raw little-endian tensor bytes, C-contiguous.
/// </summary>
public static class Safetensors
{
    /// <summary>The format's dtype names and torch's types for the ones supported here.</summary>
    public static IReadOnlyDictionary<string, ScalarType> DTypes { get; } = new Dictionary<string, ScalarType>
    {
        ["F64"] = ScalarType.Float64,
        ["F32"] = ScalarType.Float32,
        ["F16"] = ScalarType.Float16,
        ["BF16"] = ScalarType.BFloat16,
        ["I64"] = ScalarType.Int64,
        ["I32"] = ScalarType.Int32,
        ["I16"] = ScalarType.Int16,
        ["I8"] = ScalarType.Int8,
        ["U8"] = ScalarType.Byte,
        ["BOOL"] = ScalarType.Bool,
    };

    const long MaxHeaderBytes = 100_000_000;

    /// <summary>
    /// Writes <paramref name="tensors"/> (any device; copied to the CPU) in name order to a temporary file beside
    /// <paramref name="path"/>, then renames it over <paramref name="path"/>.
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing needs a little-endian host");
        var ordered = tensors.OrderBy(t => t.Key, StringComparer.Ordinal).ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        foreach (var (name, tensor) in ordered)
        {
            string dtype = NameOf(tensor.dtype, name);
            long size = tensor.numel() * tensor.ElementSize;
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(tensor.shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + size),
            };
            offset += size;
        }
        byte[] headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padding = (8 - headerBytes.Length % 8) % 8;   // the reference pads the header with spaces to 8-byte alignment

        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)(headerBytes.Length + padding));
            stream.Write(length);
            stream.Write(headerBytes);
            for (int i = 0; i < padding; i++) stream.WriteByte((byte)' ');
            foreach (var (_, tensor) in ordered)
            {
                using Tensor cpu = tensor.detach().cpu().contiguous();
                stream.Write(cpu.bytes);
            }
        });
    }

    /// <summary>Reads the header only: name → entry, and the metadata.</summary>
    public static SafetensorsHeader ReadHeader(string path)
    {
        using var stream = OpenChecked(path);
        return ParseHeader(path, stream);
    }

    /// <summary>
    /// Reads every tensor into CPU tensors of the stored dtype. Fails with the file name and the problem on a
    /// truncated file, a bad header, overlapping or out-of-range offsets, or an unsupported dtype.
    /// </summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors reading needs a little-endian host");
        using var stream = OpenChecked(path);
        SafetensorsHeader header = ParseHeader(path, stream);
        long dataStart = stream.Position, dataLength = stream.Length - dataStart;
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, entry) in header.Tensors.OrderBy(e => e.Value.Begin))
            {
                if (!DTypes.TryGetValue(entry.DType, out ScalarType type))
                    throw new InvalidDataException($"{path}: tensor '{name}' has unsupported dtype {entry.DType} (supported: {string.Join(", ", DTypes.Keys)})");
                if (entry.End > dataLength)
                    throw new InvalidDataException($"{path}: tensor '{name}' data ends at {entry.End} but the file holds {dataLength} data bytes (truncated?)");
                Tensor tensor = empty(entry.Shape, dtype: type);
                long expected = tensor.numel() * tensor.ElementSize;
                if (entry.End - entry.Begin != expected)
                {
                    tensor.Dispose();
                    throw new InvalidDataException($"{path}: tensor '{name}' of {entry.DType} [{string.Join(", ", entry.Shape)}] needs {expected} bytes but data_offsets span {entry.End - entry.Begin}");
                }
                result[name] = tensor;
                byte[] buffer = new byte[expected];
                stream.Position = dataStart + entry.Begin;
                stream.ReadExactly(buffer);
                tensor.bytes = buffer;
            }
        }
        catch
        {
            foreach (Tensor t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>The format's dtype name for a torch type.</summary>
    public static string NameOf(ScalarType type, string tensorName = "") =>
        DTypes.FirstOrDefault(p => p.Value == type).Key
        ?? throw new ArgumentException($"safetensors: tensor '{tensorName}' has dtype {type}, which safetensors writing does not support here");

    static FileStream OpenChecked(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such safetensors file", path);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
    }

    static SafetensorsHeader ParseHeader(string path, FileStream stream)
    {
        Span<byte> lengthBytes = stackalloc byte[8];
        if (stream.Length < 8) throw new InvalidDataException($"{path}: too short for a safetensors file ({stream.Length} bytes)");
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderBytes || (long)headerLength > stream.Length - 8)
            throw new InvalidDataException($"{path}: header length {headerLength} is impossible for a {stream.Length}-byte file (not safetensors?)");
        byte[] headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);

        JsonObject json;
        try
        {
            json = JsonNode.Parse(headerBytes) as JsonObject ?? throw new InvalidDataException($"{path}: header is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: header is not valid JSON ({e.Message})");
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var tensors = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        foreach (var (name, node) in json)
        {
            if (name == "__metadata__")
            {
                if (node is not JsonObject meta) throw new InvalidDataException($"{path}: __metadata__ must be an object");
                foreach (var (k, v) in meta)
                    metadata[k] = v is JsonValue sv && sv.GetValueKind() == JsonValueKind.String ? sv.GetValue<string>()
                        : throw new InvalidDataException($"{path}: __metadata__ value '{k}' must be a string");
                continue;
            }
            try
            {
                var entry = (JsonObject)node!;
                string dtype = entry["dtype"]!.GetValue<string>();
                long[] shape = entry["shape"]!.AsArray().Select(s => s!.GetValue<long>()).ToArray();
                var offsets = entry["data_offsets"]!.AsArray();
                long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
                if (offsets.Count != 2 || begin < 0 || end < begin || shape.Any(s => s < 0)) throw new FormatException();
                tensors[name] = new SafetensorsEntry(dtype, shape, begin, end);
            }
            catch (Exception e) when (e is InvalidCastException or InvalidOperationException or NullReferenceException or FormatException or ArgumentOutOfRangeException)
            {
                throw new InvalidDataException($"{path}: header entry '{name}' must be {{dtype, shape, data_offsets: [begin, end]}}, got {node?.ToJsonString()}");
            }
        }
        long previousEnd = 0;
        foreach (var (name, entry) in tensors.OrderBy(t => t.Value.Begin))
        {
            if (entry.Begin < previousEnd) throw new InvalidDataException($"{path}: tensor '{name}' overlaps the tensor before it");
            previousEnd = entry.End;
        }
        return new SafetensorsHeader(tensors, metadata);
    }
}
