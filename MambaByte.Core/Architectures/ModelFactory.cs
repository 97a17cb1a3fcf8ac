using MambaByte.Core.Models;
using System.Text.Json.Nodes;

namespace MambaByte.Core.Architectures;

/// <summary>
/// Builds a model from its config.json through <see cref="ArchitectureRegistry"/>. A config with <c>"architecture"</c>
/// names its architecture; the reference Mamba form has no such key and builds the default (Mamba).
/// </summary>
public static class ModelFactory
{
    /// <summary>
    /// The model a config describes, freshly initialised with <paramref name="seed"/>.
    /// <paramref name="source"/> names the config in error messages (normally the config.json path).
    /// </summary>
    public static ByteLanguageModel FromConfig(JsonObject config, string source = "config.json", long seed = 0) =>
        ArchitectureRegistry.Read(config, source).WithSeed(seed).Build();

    /// <summary>Reads and parses a config.json file, then <see cref="FromConfig"/>.</summary>
    public static ByteLanguageModel FromConfigFile(string path, long seed = 0) => FromConfig(ReadConfig(path), path, seed);

    /// <summary>The <c>architecture</c> key, or the default architecture's name when absent (the reference form).</summary>
    public static string ArchitectureOf(JsonObject config, string source = "config.json") => ArchitectureRegistry.NameOf(config, source);

    /// <summary>Parses a config.json, failing with the path and the problem.</summary>
    public static JsonObject ReadConfig(string path) => JsonFile.ReadObject(path, "a JSON object");
}
