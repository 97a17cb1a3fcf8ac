using MambaByte.Core.Checkpoints;
using System.Text.Json;
using System.Text.Json.Nodes;
using MambaByte.Core.Models;
using MambaByte.Core.Architectures.Mamba;
using MambaByte.Core.Architectures.MegaByte;
using MambaByte.Core.Architectures.Transformer;

namespace MambaByte.Core.Architectures;

/// <summary>
/// Builds a model from its config.json. A config with <c>"architecture"</c> names a baseline; the reference
/// Mamba form has no such key and builds a <see cref="MambaLMHeadModel"/>.
/// </summary>
public static class ModelFactory
{
    /// <summary>
    /// The model a config describes, freshly initialised with <paramref name="seed"/>.
    /// <paramref name="source"/> names the config in error messages (normally the config.json path).
    /// </summary>
    public static ByteLanguageModel FromConfig(JsonObject config, string source = "config.json", long seed = 0)
    {
        string architecture = ArchitectureOf(config, source);
        return architecture switch
        {
            "mamba" => new MambaLMHeadModel(MambaConfig.FromJson(config, source), seed),
            TransformerConfig.ArchitectureName => new ByteTransformer(TransformerConfig.FromConfigJson(config, source), seed),
            MegaByteConfig.ArchitectureName => new MegaByteModel(MegaByteConfig.FromConfigJson(config, source), seed),
            _ => throw new InvalidDataException($"{source}: unknown architecture \"{architecture}\" (this build knows: mamba, transformer, megabyte)"),
        };
    }

    /// <summary>Reads and parses a config.json file, then <see cref="FromConfig"/>.</summary>
    public static ByteLanguageModel FromConfigFile(string path, long seed = 0) => FromConfig(ReadConfig(path), path, seed);

    /// <summary>The <c>architecture</c> key, or <c>mamba</c> when absent (the reference form).</summary>
    public static string ArchitectureOf(JsonObject config, string source = "config.json")
    {
        if (config["architecture"] is not JsonNode node) return "mamba";
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String) return v.GetValue<string>().ToLowerInvariant();
        throw new InvalidDataException($"{source}: 'architecture' must be a string, got {node.ToJsonString()}");
    }

    /// <summary>Parses a config.json, failing with the path and the problem.</summary>
    public static JsonObject ReadConfig(string path) => JsonFile.ReadObject(path, "a JSON object");
}
