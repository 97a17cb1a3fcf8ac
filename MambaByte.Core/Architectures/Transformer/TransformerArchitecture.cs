using System.Text.Json.Nodes;
using MambaByte.Core.Models;

namespace MambaByte.Core.Architectures.Transformer;

/// <summary>The byte-level Transformer as the tools see it: presets, config.json, size knob; no state to carry across windows.</summary>
public sealed class TransformerArchitecture : IArchitecture
{
    public static TransformerArchitecture Instance { get; } = new();

    TransformerArchitecture()
    {
    }

    public string Name => TransformerConfig.ArchitectureName;

    public string Summary => "decoder-only Transformer over bytes (RoPE, SwiGLU, RMSNorm) with a KV cache";

    public string LongerWindows => "rotary positions (relative angles): runs windows of any length; positions past the training context were never trained";

    public bool CanCarryState => false;

    public IReadOnlyList<string> PresetNames => [.. TransformerConfig.Presets.Keys];

    public IModelConfig Preset(string name) => TransformerConfig.Preset(name);

    public IModelConfig ReadConfig(JsonObject json, string source) => TransformerConfig.FromConfigJson(json, source);

    public IModelConfig FromSize(int size, SizeContext context) => TransformerConfig.FromSize(size);
}
