# S3Mount loader. The compiled cmdlets live in lib/ beside this file (the built module, out/S3Mount);
# imported from a source checkout (./S3Mount.psd1 at the repo root) they are taken from the build output.
$lib = Join-Path -Path $PSScriptRoot -ChildPath 'lib'
if (-not (Test-Path -LiteralPath (Join-Path -Path $lib -ChildPath 'S3Mount.dll'))) {
    $lib = [System.IO.Path]::Combine($PSScriptRoot, '..', 'out', 'S3Mount', 'module', 'lib')
}
$dll = Join-Path -Path $lib -ChildPath 'S3Mount.dll'
if (-not (Test-Path -LiteralPath $dll)) {
    throw [System.IO.FileNotFoundException]::new("S3Mount is not built: run 'dotnet build' or './build.ps1 -Task Build' in the repository first.", $dll)
}

# PowerShell 7: S3Mount.Engine and its AWS SDK assemblies load into their own AssemblyLoadContext, so AWS.Tools
# (which ships its own AWSSDK.Core) and S3Mount load in one session whichever is imported first.
# Windows PowerShell 5.1 has no load contexts; there the strong-named AWSSDK assemblies load side by side by version.
if ($PSVersionTable.PSEdition -eq 'Core') {
    $loader = [System.Reflection.Assembly]::LoadFrom((Join-Path -Path $lib -ChildPath 'S3Mount.Loader.dll'))
    $null = $loader.GetType('S3Mount.Loader.DependencyIsolation', $true).GetMethod('Install').Invoke($null, @([string]$lib))
}

Import-Module -Name $dll -ErrorAction Stop
Export-ModuleMember -Cmdlet '*'
