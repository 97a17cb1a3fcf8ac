using System.Text.Json;
using System.Text.Json.Nodes;

namespace MambaByte.Core.Models;

/// <summary>
/// Reads a config.json (every architecture's) with messages that name the file and the key: by key from the object
/// it was given, or any node (a nested one, such as Mamba's <c>ssm_cfg</c>) by <see cref="Int(JsonNode, string)"/> and its siblings.
/// </summary>
public sealed class ConfigJsonReader(JsonObject json, string source)
{
    /// <summary>
    /// A reader for a baseline's own config.json form (Transformer, MegaByte, SpaceByte): every key one of
    /// <paramref name="known"/>, "architecture" equal to <paramref name="architecture"/>, and vocab_size, when given, 256.
    /// </summary>
    public static ConfigJsonReader ForByteModel(JsonObject json, string source, string architecture, IReadOnlyCollection<string> known)
    {
        var reader = new ConfigJsonReader(json, source);
        reader.RejectUnknownKeys(known);
        reader.RequireArchitecture(architecture);
        int vocab = reader.Int("vocab_size", ByteLanguageModel.ByteVocabulary);
        if (vocab != ByteLanguageModel.ByteVocabulary)
            throw new InvalidDataException($"{source}: 'vocab_size' must be {ByteLanguageModel.ByteVocabulary} for a byte model, got {vocab}");
        return reader;
    }

    public void RequireArchitecture(string expected)
    {
        if (json["architecture"] is not JsonNode node)
            throw new InvalidDataException($"{source}: missing required key 'architecture' (expected \"{expected}\")");
        string actual = String(node, "architecture");
        if (actual != expected) throw new InvalidDataException($"{source}: 'architecture' is \"{actual}\", expected \"{expected}\"");
    }

    public void RejectUnknownKeys(IReadOnlyCollection<string> known)
    {
        foreach (var (key, _) in json)
            if (!known.Contains(key)) throw new InvalidDataException($"{source}: unknown key '{key}' (known: {string.Join(", ", known)})");
    }

    public int RequiredInt(string key) =>
        json[key] is JsonNode node ? Int(node, key) : throw new InvalidDataException($"{source}: missing required key '{key}'");

    public int Int(string key, int fallback) => json[key] is JsonNode node ? Int(node, key) : fallback;

    public int? OptionalInt(string key) => json[key] is JsonNode node ? Int(node, key) : null;

    public long Long(string key, long fallback)
    {
        if (json[key] is not JsonNode node) return fallback;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out long l)) return l;
        // A value built in memory (JsonValue.Create(int)) converts only to its own type.
        if (node is JsonValue i && i.GetValueKind() == JsonValueKind.Number && i.TryGetValue(out int small)) return small;
        throw new InvalidDataException($"{source}: '{key}' must be an integer, got {node.ToJsonString()}");
    }

    public double Double(string key, double fallback) => json[key] is JsonNode node ? Double(node, key) : fallback;

    public bool Bool(string key, bool fallback) => json[key] is JsonNode node ? Bool(node, key) : fallback;

    public int Int(JsonNode node, string key)
    {
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out int i)) return i;
        if (node is JsonValue d && d.GetValueKind() == JsonValueKind.Number && d.TryGetValue(out double x) && x == Math.Floor(x) && Math.Abs(x) <= int.MaxValue) return (int)x;
        throw new InvalidDataException($"{source}: '{key}' must be an integer, got {node.ToJsonString()}");
    }

    public double Double(JsonNode node, string key) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out double d)
            ? d
            : throw new InvalidDataException($"{source}: '{key}' must be a number, got {node.ToJsonString()}");

    public bool Bool(JsonNode node, string key) =>
        node is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False
            ? v.GetValue<bool>()
            : throw new InvalidDataException($"{source}: '{key}' must be true or false, got {node.ToJsonString()}");

    public string String(JsonNode node, string key) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.String
            ? v.GetValue<string>()
            : throw new InvalidDataException($"{source}: '{key}' must be a string, got {node.ToJsonString()}");
}
