namespace S3Mount.Cmdlets.Tests;

/// <summary>Paths of the repository and of the built module (out/S3Mount).</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string ModuleOut => Path.Combine(Root, "out", "S3Mount");

    public static string Lib => Path.Combine(ModuleOut, "module", "lib");

    private static string FindRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "S3Mount.slnx")))
        {
            d = d.Parent;
        }

        return d?.FullName ?? throw new InvalidOperationException("S3Mount.slnx not found above " + AppContext.BaseDirectory);
    }
}
