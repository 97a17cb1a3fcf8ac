using System.Text.Json.Nodes;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MambaByte.Tests.Jobs;

/// <summary>
/// A tiny test-only byte model with a real recurrent state: h_t = sigmoid(mix) ⊙ h_{t−1} + E[x_t],
/// logits_t = W tanh(h_t) + b. With <c>memory: false</c> it is a bigram model (h_t = E[x_t]), whose
/// prediction depends only on the current byte, so any windowing of a document must give the full forward's
/// log-probabilities. <see cref="PoisonAfterForwards"/> makes the n-th training forward return NaN logits.
/// </summary>
internal sealed class RecurrentTestModel : ByteLanguageModel
{
    readonly Embedding embed;
    readonly Parameter mix;
    readonly Linear head;
    readonly bool memory;
    int forwards;

    public RecurrentTestModel(int width = 8, bool memory = true) : base(nameof(RecurrentTestModel))
    {
        Width = width;
        this.memory = memory;
        embed = nn.Embedding(ByteVocabulary, width);
        mix = nn.Parameter(zeros(width));
        head = nn.Linear(width, ByteVocabulary);
        RegisterComponents();
    }

    public int Width { get; }

    public int PoisonAfterForwards { get; set; } = -1;

    /// <summary>Called with the model's weights still alive when it is disposed (the trainer disposes it last).</summary>
    public Action<RecurrentTestModel>? Disposing { get; set; }

    public override string Architecture => "recurrent-test";

    public override JsonObject ConfigJson() => new() { ["width"] = Width, ["memory"] = memory };

    public override Tensor forward(Tensor bytes)
    {
        using var state = (State)NewState((int)bytes.shape[0]);
        Tensor logits = Prefill(bytes, state);
        if (training && ++forwards == PoisonAfterForwards) logits = logits * double.NaN;
        return logits;
    }

    public override IInferenceState NewState(int batchSize) =>
        new State(batchSize, zeros([batchSize, Width], dtype: embed.weight!.dtype, device: embed.weight.device));

    public override Tensor Prefill(Tensor bytes, IInferenceState state)
    {
        var s = (State)state;
        using var scope = NewDisposeScope();
        Tensor e = embed.forward(bytes);                                   // (b, l, w)
        Tensor decay = sigmoid(mix);                                       // (w)
        Tensor h = s.Hidden;
        var outputs = new Tensor[bytes.shape[1]];
        for (int t = 0; t < outputs.Length; t++)
        {
            h = memory ? decay * h + e.select(1, t) : e.select(1, t);      // (b, w)
            outputs[t] = h;
        }
        s.Advance(h, outputs.Length);
        Tensor hs = stack(outputs, dim: 1);                                // (b, l, w)
        return head.forward(tanh(hs)).MoveToOuterDisposeScope();           // (b, l, 256)
    }

    public override Tensor Step(Tensor bytes, IInferenceState state) =>
        Prefill(bytes.unsqueeze(1), state).squeeze(1);                     // (b, 256)

    public override double TrainingFlopsPerByte(int contextLength) => 6.0 * (Width * ByteVocabulary + 3 * Width);

    public override double GenerationFlopsPerByte(long position) => 2.0 * (Width * ByteVocabulary + 3 * Width);

    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        save(Path.Combine(directory, "model.bin"));
        File.WriteAllText(Path.Combine(directory, "config.json"), ConfigJson().ToJsonString());
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) Disposing?.Invoke(this);
        base.Dispose(disposing);
    }

    public static RecurrentTestModel Load(string directory, Device device)
    {
        string config = Path.Combine(directory, "config.json");
        if (!File.Exists(config)) throw new FileNotFoundException($"{directory}: no config.json", config);
        JsonNode json = JsonNode.Parse(File.ReadAllText(config))!;
        var model = new RecurrentTestModel((int)json["width"]!, (bool)json["memory"]!);
        model.load(Path.Combine(directory, "model.bin"));
        return (RecurrentTestModel)model.to(device);
    }

    sealed class State(int batchSize, Tensor hidden) : IInferenceState
    {
        public int BatchSize { get; } = batchSize;

        public long Position { get; private set; }

        public Tensor Hidden { get; private set; } = hidden;

        public void Advance(Tensor hidden, int bytes)
        {
            Tensor previous = Hidden;
            Hidden = hidden.detach().DetachFromDisposeScope();
            previous.Dispose();
            Position += bytes;
        }

        public void Dispose() => Hidden.Dispose();
    }
}
