using System.Text.Json.Nodes;
using MambaByte.Core.Models;

namespace MambaByte.Core.Architectures.MegaByte;

/// <summary>MegaByte as the tools see it: presets, config.json, size knob (patches of 8 bytes); no state to carry across windows.</summary>
public sealed class MegaByteArchitecture : IArchitecture
{
    /// <summary>The patch size of the size knob (the paper's, and the config's default).</summary>
    public const int SizeKnobPatch = 8;

    public static MegaByteArchitecture Instance { get; } = new();

    MegaByteArchitecture()
    {
    }

    public string Name => MegaByteConfig.ArchitectureName;

    public string Summary => "MegaByte (Yu et al. 2023): a global Transformer over patches of bytes and a local one inside each patch";

    public string LongerWindows => "learned patch positions: runs windows up to its max_context";

    public bool CanCarryState => false;

    public IReadOnlyList<string> PresetNames => [.. MegaByteConfig.Presets.Keys];

    public IModelConfig Preset(string name) => MegaByteConfig.Preset(name);

    public IModelConfig ReadConfig(JsonObject json, string source) => MegaByteConfig.FromConfigJson(json, source);

    /// <summary>
    /// <see cref="MegaByteConfig.FromSize"/> with learned patch positions that cover the training windows and the
    /// farthest generation position, no more: unused positions would be parameters that never train.
    /// </summary>
    public IModelConfig FromSize(int size, SizeContext context)
    {
        if (context.Context < SizeKnobPatch) throw new ArgumentException($"--context {context.Context}: MegaByte needs at least one patch of {SizeKnobPatch} bytes");
        long reach = Math.Max(context.Context, context.MaxPosition + 2);
        int maxContext = checked((int)((reach + SizeKnobPatch - 1) / SizeKnobPatch * SizeKnobPatch));
        return MegaByteConfig.FromSize(size, SizeKnobPatch) with { MaxContext = maxContext };
    }
}
