using System.Text.Json.Nodes;

namespace MambaByte.Core.Models;

/// <summary>
/// One architecture's config record seen through what every tool needs from it: the model's name, seed, config.json
/// form, size overrides, parameter count and FLOPs, all computed from the config alone (no model is built), and the
/// model itself. <see cref="IArchitecture"/> creates configs; the record types implement this.
/// </summary>
public interface IModelConfig
{
    /// <summary>The registered architecture name (<see cref="IArchitecture.Name"/>), the <c>architecture</c> key of config.json.</summary>
    string Architecture { get; }

    /// <summary>Seeds the initialisation of <see cref="Build"/>; read from config.json when present, never written (a checkpoint's weights replace it).</summary>
    long Seed { get; }

    IModelConfig WithSeed(long seed);

    /// <summary>The config.json written beside model.safetensors; <see cref="IArchitecture.ReadConfig"/> reads it back to an equal config.</summary>
    JsonObject ConfigJson();

    /// <summary>
    /// The config with the command line's width, depth and training context applied (zero leaves a value as it is):
    /// for a two-level model the global (outer) model's width and depth.
    /// </summary>
    IModelConfig WithOverrides(ModelOverrides overrides);

    /// <summary>Trainable parameters of the model this config builds (tied weights once).</summary>
    long ParameterCount();

    /// <summary>Analytic training FLOPs per byte (forward + backward, 3× forward) for windows of <paramref name="contextLength"/> bytes.</summary>
    double TrainingFlopsPerByte(int contextLength);

    /// <summary>Analytic FLOPs to generate one byte at 0-based context position <paramref name="position"/>.</summary>
    double GenerationFlopsPerByte(long position);

    /// <summary>One line of the dimensions that matter, for tables and messages.</summary>
    string Shape { get; }

    /// <summary>
    /// A fine width knob whose cost grows linearly (a baseline's MLP width) that <c>compare --match</c> tunes after
    /// the size knob; null when the architecture has none.
    /// </summary>
    int? FineWidth { get; }

    IModelConfig WithFineWidth(int width);

    /// <summary>The model, initialised from <see cref="Seed"/> alone: the same config gives the same weights.</summary>
    ByteLanguageModel Build();
}
