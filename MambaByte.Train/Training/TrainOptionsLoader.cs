using MambaByte.Core.Checkpoints;
using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using MambaByte.Core.Models;
using MambaByte.Train.Runs;
using MambaByte.Core.Architectures;

namespace MambaByte.Train.Training;

/// <summary>
/// Builds <see cref="TrainOptions"/> from three layers: the defaults, then a run.json (<c>--config</c>, or the
/// resumed run's), then the options given on the command line. Keys are the kebab-case option names.
/// </summary>
public static class TrainOptionsLoader
{
    /// <summary>run.json's JSON form (the run directory's, shared with trainer_state.json).</summary>
    public static readonly JsonSerializerOptions Json = RunDirectory.Json;

    /// <summary>Stands in a [Description] (a compile-time constant) for the registered architecture names.</summary>
    public const string ArchitecturesPlaceholder = "{architectures}";

    /// <summary>Each option: its kebab-case name, CLR type and help text, in declaration order.</summary>
    public static IReadOnlyList<(string Name, Type Type, string Description, PropertyInfo Property)> Describe() =>
        typeof(TrainOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .Select(p => (JsonNamingPolicy.KebabCaseLower.ConvertName(p.Name), p.PropertyType,
                (p.GetCustomAttribute<DescriptionAttribute>()?.Description ?? "").Replace(ArchitecturesPlaceholder, ArchitectureRegistry.NamesText, StringComparison.Ordinal), p))
            .ToList();

    const string MaxStepsKey = "max-steps";

    public static TrainOptions Merge(JsonObject? config, string? configSource, IReadOnlyDictionary<string, string> commandLine)
    {
        var merged = (JsonObject)JsonSerializer.SerializeToNode(new TrainOptions(), Json)!;
        var known = Describe().ToDictionary(d => d.Name, d => d.Type);
        if (config is not null)
        {
            foreach ((string key, JsonNode? value) in config)
            {
                if (!known.TryGetValue(key, out Type? type))
                    throw new InvalidDataException($"{configSource}: unknown option '{key}' (known: {string.Join(", ", known.Keys)})");
                string raw = value is null ? "" : value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : value.ToJsonString();
                merged[key] = Convert(raw, type, $"{configSource}: '{key}'");
            }
        }
        foreach ((string key, string text) in commandLine)
        {
            if (!known.TryGetValue(key, out Type? type)) throw new ArgumentException($"--{key}: not a train option");
            merged[key] = Convert(text, type, $"--{key}");
        }
        TrainOptions options = merged.Deserialize<TrainOptions>(Json)!;
        // The default step limit only stands in for a missing limit: a run given --max-minutes or --max-bytes (and
        // no --max-steps, here or in its run.json) runs until that limit, so "--max-minutes 3" trains three minutes.
        bool stepsGiven = commandLine.ContainsKey(MaxStepsKey) || config?.ContainsKey(MaxStepsKey) == true;
        if (!stepsGiven && (options.MaxMinutes > 0 || options.MaxBytes > 0)) options = options with { MaxSteps = 0 };
        options.Validate();
        return options;
    }

    public static JsonObject ReadConfig(string path) => JsonFile.ReadObject(path, "a JSON object of option names to values");

    public static string ToJson(TrainOptions options) => JsonSerializer.Serialize(options, Json);

    public static JsonObject ToJsonObject(TrainOptions options) => (JsonObject)JsonSerializer.SerializeToNode(options, Json)!;

    /// <summary>The options as aligned "name = value" lines, as printed at the start of a run.</summary>
    public static IEnumerable<string> Lines(TrainOptions options)
    {
        var values = ToJsonObject(options);
        int width = values.Max(kv => kv.Key.Length);
        foreach ((string key, JsonNode? value) in values)
            yield return $"  {key.PadRight(width)} = {(value?.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : value?.ToJsonString())}";
    }

    static JsonNode Convert(string text, Type type, string where)
    {
        string t = text.Trim();
        if (type == typeof(string)) return JsonValue.Create(text);
        if (type == typeof(bool))
        {
            if (bool.TryParse(t, out bool b)) return JsonValue.Create(b);
            throw new ArgumentException($"{where} {text}: expected true or false");
        }
        if (type == typeof(int))
        {
            if (int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out int i)) return JsonValue.Create(i);
            throw new ArgumentException($"{where} {text}: expected an integer");
        }
        if (type == typeof(long))
        {
            if (long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out long l)) return JsonValue.Create(l);
            // Allow 1e6-style byte counts.
            if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double dl) && dl == Math.Floor(dl) && Math.Abs(dl) < 9e18)
                return JsonValue.Create((long)dl);
            throw new ArgumentException($"{where} {text}: expected an integer");
        }
        if (type == typeof(double))
        {
            if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return JsonValue.Create(d);
            throw new ArgumentException($"{where} {text}: expected a number");
        }
        throw new InvalidOperationException($"option type {type} is not handled");
    }
}
