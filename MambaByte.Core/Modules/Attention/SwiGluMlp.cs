using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MambaByte.Core.Modules.Attention;

/// <summary>SwiGLU feed-forward (Shazeer 2020): down(silu(gate(x)) ⊙ up(x)).</summary>
public sealed class SwiGluMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear gate_proj;
    private readonly Linear up_proj;
    private readonly Linear down_proj;

    public SwiGluMlp(int width, int hidden, string name = "mlp") : base(name)
    {
        gate_proj = nn.Linear(width, hidden, hasBias: false);
        up_proj = nn.Linear(width, hidden, hasBias: false);
        down_proj = nn.Linear(hidden, width, hasBias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor hidden = nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x);                 // (…, hidden)
        return down_proj.forward(hidden).MoveToOuterDisposeScope();                                     // (…, width)
    }
}
