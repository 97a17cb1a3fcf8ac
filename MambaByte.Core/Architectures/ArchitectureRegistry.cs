using System.Text.Json;
using System.Text.Json.Nodes;
using MambaByte.Core.Architectures.Mamba;
using MambaByte.Core.Architectures.MegaByte;
using MambaByte.Core.Architectures.SpaceByte;
using MambaByte.Core.Architectures.Transformer;
using MambaByte.Core.Models;

namespace MambaByte.Core.Architectures;

/// <summary>
/// The one list of architectures. train (<c>--arch</c>), eval, generate, export, compare (<c>--archs</c>), bench, the
/// help texts and every unknown-name error read it; adding an architecture is its folder plus one line here.
/// </summary>
public static class ArchitectureRegistry
{
    /// <summary>
    /// Every architecture of this build, in the order help and reports list them. The first is the default: the
    /// model of a config.json without an <c>architecture</c> key (the reference mamba_ssm form), train's default
    /// <c>--arch</c>, and the reference <c>compare</c> matches the others to.
    /// </summary>
    public static IReadOnlyList<IArchitecture> All { get; } =
    [
        MambaArchitecture.Instance,
        TransformerArchitecture.Instance,
        MegaByteArchitecture.Instance,
        SpaceByteArchitecture.Instance,
    ];

    public static IArchitecture Default => All[0];

    public static IReadOnlyList<string> Names { get; } = [.. All.Select(a => a.Name)];

    /// <summary>The names as a sentence: "a, b or c".</summary>
    public static string NamesText => Names.Count == 1 ? Names[0] : $"{string.Join(", ", Names.SkipLast(1))} or {Names[^1]}";

    /// <summary>The architectures that can carry a recurrent state across windows, as a sentence.</summary>
    public static string StatefulNamesText => string.Join(", ", All.Where(a => a.CanCarryState).Select(a => a.Name));

    /// <summary>The architecture of that name (case-insensitive), or null.</summary>
    public static IArchitecture? Find(string name) =>
        All.FirstOrDefault(a => string.Equals(a.Name, name.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>The architecture of that name, or an <see cref="ArgumentException"/> "<paramref name="option"/> NAME: expected a, b or c".</summary>
    public static IArchitecture Get(string name, string option) =>
        Find(name) ?? throw new ArgumentException($"{option} {name}: expected {NamesText}");

    /// <summary>
    /// The architecture a config.json describes: its <c>architecture</c> key, or <see cref="Default"/> when absent.
    /// An unknown name fails naming <paramref name="source"/> and the names this build knows.
    /// </summary>
    public static IArchitecture Of(JsonObject config, string source = "config.json")
    {
        string name = NameOf(config, source);
        return Find(name) ?? throw new InvalidDataException($"{source}: unknown architecture \"{name}\" (this build knows: {string.Join(", ", Names)})");
    }

    /// <summary>The <c>architecture</c> key in lower case, or the default's name when absent.</summary>
    public static string NameOf(JsonObject config, string source = "config.json")
    {
        if (config["architecture"] is not JsonNode node) return Default.Name;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String) return v.GetValue<string>().ToLowerInvariant();
        throw new InvalidDataException($"{source}: 'architecture' must be a string, got {node.ToJsonString()}");
    }

    /// <summary>
    /// Checks a config the way a checkpoint of it will be read: its config.json is read back (the reader validates every
    /// value, naming <paramref name="source"/> and the key), with the seed, which config.json does not hold, kept.
    /// </summary>
    public static IModelConfig Validate(IModelConfig config, string source) =>
        Get(config.Architecture, "architecture").ReadConfig(config.ConfigJson(), source).WithSeed(config.Seed);

    /// <summary>Reads a config.json of any registered architecture.</summary>
    public static IModelConfig Read(JsonObject config, string source = "config.json") => Of(config, source).ReadConfig(config, source);
}
