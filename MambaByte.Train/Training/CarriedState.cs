using MambaByte.Core.Checkpoints;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using TorchSharp;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Train.Training;

/// <summary>
/// <c>train --carry-state</c>: the conv and SSM state of every lane (batch row), carried from one micro-batch to the
/// next. The state after a micro-batch is the initial state of the lane's next one, detached (truncated
/// backpropagation through time: gradients flow through the state only inside a micro-batch, which holds
/// <c>--bptt-windows</c> windows). A document start inside a micro-batch resets the lane's state to zero at that
/// exact position: the forward is split at every position where some lane resets, each piece runs through
/// <see cref="ByteLanguageModel.Prefill"/> (which continues from the state under autograd and leaves the state after
/// its last byte), and before a piece the resetting lanes' states are zeroed. Without resets this is one Prefill of
/// the whole micro-batch from the carried state.
/// </summary>
public sealed class CarriedState : IDisposable
{
    /// <summary>The file in a checkpoint that holds the carried state (safetensors: per layer conv and ssm).</summary>
    public const string FileName = "carried_state.safetensors";

    readonly MambaInferenceState state;

    public CarriedState(ByteLanguageModel model, int lanes)
    {
        state = model.NewState(lanes) as MambaInferenceState
            ?? throw new ArgumentException($"--carry-state: --arch {model.Architecture} has no recurrent state to carry across windows (only mamba)");
        Lanes = lanes;
    }

    public int Lanes { get; }

    public MambaInferenceState State => state;

    /// <summary>
    /// Mean next-byte cross-entropy in nats over the micro-batch, as <see cref="ByteLanguageModel.Loss"/>, with each
    /// lane continuing from its carried state. <paramref name="input"/> and <paramref name="target"/> are (b, T)
    /// int64; <paramref name="resetBefore"/> (b × T, row-major, or null) marks where a lane's state is zeroed first.
    /// </summary>
    public Tensor Loss(ByteLanguageModel model, Tensor input, Tensor target, bool[]? resetBefore)
    {
        int rows = (int)input.shape[0], length = (int)input.shape[1];
        if (rows != Lanes) throw new ArgumentException($"the carried state has {Lanes} lanes, the batch {rows} rows");
        using var scope = NewDisposeScope();
        var cuts = new List<int> { 0 };
        if (resetBefore is not null)
            for (int t = 1; t < length; t++)
                for (int r = 0; r < rows; r++)
                    if (resetBefore[r * length + t])
                    {
                        cuts.Add(t);
                        break;
                    }
        cuts.Add(length);

        var pieces = new List<Tensor>();
        for (int i = 0; i + 1 < cuts.Count; i++)
        {
            int begin = cuts[i], end = cuts[i + 1];
            if (resetBefore is not null) ResetLanes(Enumerable.Range(0, rows).Where(r => resetBefore[r * length + begin]).ToList());
            pieces.Add(model.Prefill(input.narrow(1, begin, end - begin), state));             // (b, piece, 256)
        }
        Tensor logits = pieces.Count == 1 ? pieces[0] : cat(pieces, dim: 1);                  // (b, T, 256)
        Tensor loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), target.reshape(-1));
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>Zeroes the conv and SSM state of the given lanes in every layer (a document starts there).</summary>
    public void ResetLanes(IReadOnlyCollection<int> lanes)
    {
        if (lanes.Count == 0) return;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var keep = new float[Lanes];
        Array.Fill(keep, 1f);
        foreach (int lane in lanes) keep[lane] = 0f;
        Tensor mask = tensor(keep, [Lanes, 1, 1]);                                             // (b, 1, 1)
        foreach (MambaLayerState layer in state.Layers)
        {
            layer.ConvState.mul_(mask.to(layer.ConvState.dtype, layer.ConvState.device));
            layer.SsmState.mul_(mask.to(layer.SsmState.dtype, layer.SsmState.device));
        }
    }

    public void Save(string directory) =>
        Safetensors.Write(Path.Combine(directory, FileName), state.Layers.SelectMany((layer, i) => new[]
        {
            new KeyValuePair<string, Tensor>($"layers.{i}.conv", layer.ConvState),
            new KeyValuePair<string, Tensor>($"layers.{i}.ssm", layer.SsmState),
        }));

    /// <summary>Restores the state a checkpoint saved; its shapes must match this model and lane count.</summary>
    public void Load(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: missing; a --carry-state checkpoint keeps the lanes' carried state there", path);
        Dictionary<string, Tensor> saved = Safetensors.Read(path);
        try
        {
            using var noGrad = no_grad();
            for (int i = 0; i < state.Layers.Count; i++)
            {
                MambaLayerState layer = state.Layers[i];
                foreach ((string name, Tensor target) in new[] { ($"layers.{i}.conv", layer.ConvState), ($"layers.{i}.ssm", layer.SsmState) })
                {
                    if (!saved.TryGetValue(name, out Tensor? value))
                        throw new InvalidDataException($"{path}: no tensor '{name}'");
                    if (!value.shape.SequenceEqual(target.shape))
                        throw new InvalidDataException($"{path}: '{name}' has shape [{string.Join(", ", value.shape)}], the model's state [{string.Join(", ", target.shape)}]");
                    target.copy_(value);
                }
            }
            if (saved.Count != 2 * state.Layers.Count)
                throw new InvalidDataException($"{path}: holds {saved.Count} tensors, the model's state {2 * state.Layers.Count}");
        }
        finally
        {
            foreach (Tensor t in saved.Values) t.Dispose();
        }
    }

    public void Dispose() => state.Dispose();
}
