//! Times IPMI fencing against a BMC, for `bench/fence.sh`: prints one JSON
//! object per run with the breakdown (login, command, confirmation).
//!
//! ```text
//! fence_probe PORT off|reboot|floor
//! ```
//! `floor` measures the BMC itself: Chassis Control power down, then Get
//! Chassis Status every 10 ms until it reads off (the simulator's own
//! power-off time, which no client can beat).

use std::time::{Duration, Instant};

use ha_fence::Action;
use ha_fence::ipmi::{ChassisControl, Connection, IpmiFencer, IpmiOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port = args
        .next()
        .ok_or("usage: fence_probe PORT off|reboot|floor")?;
    let what = args
        .next()
        .ok_or("usage: fence_probe PORT off|reboot|floor")?;
    let params: Vec<(String, String)> = [
        ("ip", "127.0.0.1"),
        ("ipport", port.as_str()),
        ("username", "admin"),
        ("password", "password"),
        ("lanplus", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let options = IpmiOptions::from_params(&params)?;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let started = Instant::now();
    match what.as_str() {
        "off" | "reboot" => {
            let action = if what == "off" {
                Action::Off
            } else {
                Action::Reboot
            };
            let steps = IpmiFencer::new(options).fence_timed(action).await?;
            println!(
                "{{\"total_ms\": {:.2}, \"login_ms\": {:.2}, \"command_ms\": {:.2}, \"confirmation_ms\": {:.2}}}",
                ms(started.elapsed()),
                ms(steps.login),
                ms(steps.command),
                ms(steps.confirmation)
            );
        }
        "floor" => {
            let mut c =
                Connection::open(options.addr, options.credentials.clone(), options.timing).await?;
            c.chassis_control(ChassisControl::PowerDown).await?;
            let acked = Instant::now();
            while c.power_is_on().await? {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            println!("{{\"floor_ms\": {:.2}}}", ms(acked.elapsed()));
            c.close().await?;
        }
        other => return Err(format!("unknown measure '{other}'").into()),
    }
    Ok(())
}
