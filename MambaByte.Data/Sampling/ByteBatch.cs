namespace MambaByte.Data;

/// <summary>
/// A batch of byte windows, row-major (<see cref="BatchSize"/> × <see cref="Length"/>): <c>Targets[r, t]</c> is the
/// byte after <c>Inputs[r, t]</c>. Every batch owns fresh arrays (nothing is reused), so a consumer may keep them.
/// <see cref="Offsets"/> gives each row's window start in the split (its input byte 0). <see cref="ResetBefore"/>
/// (carried-state streams only, same layout as the inputs) marks the positions before which a row's recurrent state
/// starts again from zero: the input there is the start byte of the document its target begins.
/// </summary>
public sealed record ByteBatch(int BatchSize, int Length, byte[] Inputs, byte[] Targets)
{
    public long[] Offsets { get; init; } = [];

    public bool[]? ResetBefore { get; init; }
}
