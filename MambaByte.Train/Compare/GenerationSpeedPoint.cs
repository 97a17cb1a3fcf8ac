namespace MambaByte.Train.Compare;

/// <summary>
/// Generation speed after a prompt of <see cref="Position"/> bytes: <see cref="Bytes"/> timed single-byte steps,
/// <see cref="Seconds"/> in all. Bytes/s is taken from the median step, which a busy machine's stalls do not move.
/// </summary>
public sealed record GenerationSpeedPoint(long Position, int Bytes, double Seconds, double MedianStepSeconds, double GenerationFlopsPerByte)
{
    public double BytesPerSecond => 1 / MedianStepSeconds;
}
