using System.Text.Json.Nodes;

namespace MambaByte.Core.Models;

/// <summary>
/// Everything the tools know about one architecture. train, eval, generate, compare and bench work only through
/// this and <see cref="IModelConfig"/>; the list of them is <c>Architectures.ArchitectureRegistry</c>, so adding an
/// architecture is its own folder plus one line there.
/// </summary>
public interface IArchitecture
{
    /// <summary>The name of <c>--arch</c>, <c>--archs</c> and config.json's <c>architecture</c> key (lower case).</summary>
    string Name { get; }

    /// <summary>One line for help texts.</summary>
    string Summary { get; }

    /// <summary>Whether the model has a recurrent state that can be carried across windows (<c>--carry-state</c>, eval's carried-state method).</summary>
    bool CanCarryState { get; }

    /// <summary>How the model meets an evaluation window longer than it trained on (compare's context table).</summary>
    string LongerWindows { get; }

    /// <summary>The size presets, in order (looked up case-insensitively by <see cref="Preset"/>).</summary>
    IReadOnlyList<string> PresetNames { get; }

    IModelConfig Preset(string name);

    /// <summary>Reads a config.json of this architecture; errors name <paramref name="source"/> and the key.</summary>
    IModelConfig ReadConfig(JsonObject json, string source);

    /// <summary>
    /// The size knob of <c>compare --match</c>: a model at integer <paramref name="size"/> ≥ 1 whose parameters and
    /// FLOPs grow strictly with size, able to train at <see cref="SizeContext.Context"/> and generate to <see cref="SizeContext.MaxPosition"/>.
    /// </summary>
    IModelConfig FromSize(int size, SizeContext context);
}
