using System.Text.Json;
using System.Text.Json.Nodes;

namespace MambaByte.Core.Models;

/// <summary>Reads a JSON object file (config.json, run.json), failing with the path and the problem.</summary>
public static class JsonFile
{
    /// <param name="expected">What the file should hold, for the error when it is not an object (e.g. "a JSON object").</param>
    public static JsonObject ReadObject(string path, string expected)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such config file", path);
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new InvalidDataException($"{path}: expected {expected}");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message})");
        }
    }
}
