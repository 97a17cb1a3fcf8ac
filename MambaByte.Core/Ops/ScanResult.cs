using static TorchSharp.torch;

namespace MambaByte.Core.Ops;

/// <summary>What a selective scan returns: y (b, d, l) in the input dtype and, when asked for, the last state (b, d, n).</summary>
public sealed record ScanResult(Tensor Y, Tensor? LastState);
