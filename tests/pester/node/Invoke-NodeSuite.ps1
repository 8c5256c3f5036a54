# Runs the in-node suite with Pester inside the node and writes its results as JSON (every test: name, result,
# seconds, error messages with their line; errors of setup blocks), for tests/pester/NodeTour.Tests.ps1 to read back.
# Runs in the node: pwsh -NoProfile -NonInteractive -File Invoke-NodeSuite.ps1 -PesterRoot DIR -PesterVersion V -ResultPath FILE
param(
    [Parameter(Mandatory)] [string] $PesterRoot,
    [Parameter(Mandatory)] [string] $PesterVersion,
    [Parameter(Mandatory)] [string] $ResultPath,
    [string] $Path = (Join-Path $PSScriptRoot 'OneNodeTour.ps1')
)
$ErrorActionPreference = 'Stop'
$env:PSModulePath = $PesterRoot + [System.IO.Path]::PathSeparator + $env:PSModulePath
Import-Module Pester -RequiredVersion $PesterVersion

function Get-Message {
    param($Records)
    @($Records | Where-Object { $_ } | ForEach-Object {
            $at = $_.ScriptStackTrace -split "`n" | Where-Object { $_ -like "*$(Split-Path -Leaf $Path)*" } | Select-Object -First 1
            (@($_.Exception.Message) + @($at)) -join "`n"
        })
}

$c = New-PesterConfiguration
$c.Run.Path = $Path
$c.Run.PassThru = $true
$c.Output.Verbosity = 'Detailed'
$r = Invoke-Pester -Configuration $c
[ordered]@{
    Result  = $r.Result
    Seconds = $r.Duration.TotalSeconds
    Tests   = @($r.Tests | ForEach-Object { [ordered]@{ Name = $_.ExpandedName; Result = $_.Result; Seconds = $_.Duration.TotalSeconds; Errors = Get-Message $_.ErrorRecord } })
    Errors  = Get-Message (@($r.Containers | ForEach-Object ErrorRecord) + @($r.FailedBlocks | ForEach-Object ErrorRecord))
} | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath $ResultPath
