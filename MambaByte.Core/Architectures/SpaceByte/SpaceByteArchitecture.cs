using System.Text.Json.Nodes;
using MambaByte.Core.Models;

namespace MambaByte.Core.Architectures.SpaceByte;

/// <summary>SpaceByte as the tools see it: presets, config.json, size knob (the paper's proportions); no state to carry across windows.</summary>
public sealed class SpaceByteArchitecture : IArchitecture
{
    public static SpaceByteArchitecture Instance { get; } = new();

    SpaceByteArchitecture()
    {
    }

    public string Name => SpaceByteConfig.ArchitectureName;

    public string Summary => "SpaceByte (Slagle 2024): local Transformer blocks over every byte, global blocks only where a word-like patch starts";

    public string LongerWindows =>
        "rotary positions and a local attention window: runs windows of any length; the global context grows with the window (l/6 patch starts) unless global_context_size fixes it";

    public bool CanCarryState => false;

    public IReadOnlyList<string> PresetNames => [.. SpaceByteConfig.Presets.Keys];

    public IModelConfig Preset(string name) => SpaceByteConfig.Preset(name);

    public IModelConfig ReadConfig(JsonObject json, string source) => SpaceByteConfig.FromConfigJson(json, source);

    /// <summary><see cref="SpaceByteConfig.FromSize"/>: no position table to size, so the context changes nothing.</summary>
    public IModelConfig FromSize(int size, SizeContext context) => SpaceByteConfig.FromSize(size);
}
