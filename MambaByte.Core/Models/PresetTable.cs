namespace MambaByte.Core.Models;

/// <summary>Named configurations of one architecture, looked up case-insensitively with a helpful error.</summary>
public sealed class PresetTable<TConfig>(string family, IReadOnlyDictionary<string, TConfig> presets)
{
    readonly Dictionary<string, TConfig> byName = new(presets, StringComparer.OrdinalIgnoreCase);

    public IReadOnlyDictionary<string, TConfig> All => byName;

    public TConfig Get(string name) =>
        byName.TryGetValue(name.Trim(), out TConfig? config)
            ? config
            : throw new ArgumentException($"unknown {family} preset '{name}' (known: {string.Join(", ", byName.Keys)})");
}
